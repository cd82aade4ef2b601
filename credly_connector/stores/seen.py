"""What a full crawl saw and swept, one table per crawl, read in the badge store's row order.

(A crawl's start also marks here the directory users a full users/delta round listed, when
the round takes several invocations.)

A full crawl's pages mark every badge row they listed (`mark_seen`); the plan then walks the
organisation's stored rows in order, slice by slice, and asks which rows of a slice were seen
(`seen_between`, one range query) instead of holding every badge of the organisation in
memory. The rows it sweeps are marked gone first (`mark_gone`), so a slice run again after a
crash still knows whose badges it removed.

The rows are keyed by the badge row's key (`BadgeKey.row_key`), so a slice of badge rows and
its marks are the same range. Each crawl has its own table, dropped in one call when the crawl
ends (`drop`) instead of deleting hundreds of thousands of rows one transaction at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from credly_connector.stores.tables import Tables, quote

# Table names are the role then the crawl id (letters and digits): `<prefix>seen<crawl id>`.
ROLE = "seen"
_SEEN, _GONE, _USERS = "seen", "gone", "users"


class SeenStore:
    """Seen and gone marks of full crawls, in a table per crawl."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._tables = tables

    def table_role(self, crawl_id: str) -> str:
        """The role (table name without the prefix) of a crawl's marks."""
        return f"{ROLE}{crawl_id}"

    def mark_seen(self, crawl_id: str, row_keys: Iterable[str]) -> int:
        """Remember that the crawl listed these badge rows (idempotent)."""
        return self._mark(crawl_id, _SEEN, row_keys)

    def mark_gone(self, crawl_id: str, row_keys: Iterable[str], emails: Iterable[str]) -> int:
        """Remember rows about to be swept, with their emails (before deleting them)."""
        entities = [
            {"PartitionKey": _GONE, "RowKey": key, "email": email}
            for key, email in zip(row_keys, emails, strict=True)
        ]
        return self._upsert(crawl_id, entities)

    def mark_users(self, crawl_id: str, user_ids: Iterable[str]) -> int:
        """Remember directory users a full users/delta round listed (across invocations)."""
        return self._mark(crawl_id, _USERS, user_ids)

    def users(self, crawl_id: str) -> set[str]:
        """The directory users a full round of the crawl listed."""
        return {key for key, _ in self._query(crawl_id, f"PartitionKey eq {quote(_USERS)}")}

    def seen_between(self, crawl_id: str, first: str, last: str) -> set[str]:
        """The seen row keys from `first` to `last` (both included)."""
        return {key for key, _ in self._between(crawl_id, _SEEN, first, last)}

    def gone_between(self, crawl_id: str, start: str, stop: str = "") -> Iterator[tuple[str, str]]:
        """(row key, email) of swept rows from `start` (included) to `stop` (excluded; '' = end)."""
        query = f"PartitionKey eq {quote(_GONE)} and RowKey ge {quote(start)}"
        if stop:
            query += f" and RowKey lt {quote(stop)}"
        yield from self._query(crawl_id, query)

    def drop(self, crawl_id: str) -> bool:
        """Delete the crawl's table (idempotent); whether it existed."""
        try:
            self._tables.service.delete_table(self._tables.name(self.table_role(crawl_id)))
        except ResourceNotFoundError:
            return False
        return True

    def _between(
        self, crawl_id: str, partition: str, first: str, last: str
    ) -> Iterator[tuple[str, str]]:
        query = (
            f"PartitionKey eq {quote(partition)} "
            f"and RowKey ge {quote(first)} and RowKey le {quote(last)}"
        )
        yield from self._query(crawl_id, query)

    def _query(self, crawl_id: str, query: str) -> Iterator[tuple[str, str]]:
        table = self._tables.table(self.table_role(crawl_id))
        try:
            for entity in table.query_entities(query, select=["RowKey", "email"]):
                yield str(entity["RowKey"]), str(entity.get("email") or "")
        except ResourceNotFoundError:
            return  # nothing was ever marked for this crawl

    def _mark(self, crawl_id: str, partition: str, row_keys: Iterable[str]) -> int:
        return self._upsert(crawl_id, [{"PartitionKey": partition, "RowKey": k} for k in row_keys])

    def _upsert(self, crawl_id: str, entities: list[dict[str, str]]) -> int:
        if not entities:
            return 0
        role = self.table_role(crawl_id)
        try:
            return self._tables.upsert_many(role, entities)
        except HttpResponseError as error:
            if error.status_code != 404:
                raise
            # The crawl's first mark creates its table.
            with contextlib.suppress(ResourceExistsError):
                self._tables.service.create_table(self._tables.name(role))
            return self._tables.upsert_many(role, entities)

    def crawl_tables(self) -> list[str]:
        """The names of every crawl's mark table on the account (for teardown)."""
        prefix = self._tables.name(ROLE)
        names = (t.name for t in self._tables.service.list_tables())
        return sorted(n for n in names if n.startswith(prefix) and n[len(prefix) :].isalnum())
