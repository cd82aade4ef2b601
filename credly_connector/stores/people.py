"""What was last written to Graph for each person: the item's content hash and when.

Every write of a person's row is conditional on the row read before their item was composed
(its ETag, or its absence), so two writers of one person (a crawl batch and a webhook, on
different instances) cannot both succeed from different reads: the loser composes again.
A deleted item leaves a tombstone row (an empty hash) rather than no row, so a writer that
read "no row" cannot succeed after another created and deleted the row meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode

from credly_connector.chunking import runs
from credly_connector.stores.tables import (
    ENTITY_OVERHEAD_BYTES,
    TRANSACTION_BYTES,
    TRANSACTION_LIMIT,
    Tables,
    dumps,
    etag_of,
    from_iso,
    loads,
    quote,
    to_iso,
)

ROLE = "people"
PARTITION = "person"
GONE = ""
"""The content hash of a tombstone: the person's item was deleted."""
# A condition failed: the row exists already (409), changed (412) or is gone (404).
_REFUSED = frozenset({404, 409, 412})
UNKNOWN = "unknown"
"""The content hash of a row whose item Graph may hold in any version: rewrite it."""


@dataclass(frozen=True)
class PersonRecord:
    """The last item written for an Entra user.

    Attributes:
        content_hash: Hash of the item as written; equal hash means no write is needed.
        badge_ids: The badges the item holds (certifications and awards).
    """

    user_id: str
    item_id: str
    content_hash: str
    user_principal_name: str
    written_at: datetime
    badge_ids: tuple[str, ...] = ()
    crawl_id: str = ""


def _to_entity(record: PersonRecord) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": record.user_id,
        "item_id": record.item_id,
        "hash": record.content_hash,
        "upn": record.user_principal_name,
        "written_at": to_iso(record.written_at),
        "badge_ids": dumps(list(record.badge_ids)),
        "crawl_id": record.crawl_id,
    }


@dataclass(frozen=True)
class PersonVersion:
    """A person's row as read before composing, to write against.

    Attributes:
        record: The last write, None when the person has no item (no row, or a tombstone).
        etag: The row's ETag; None when there was no row at all (the write creates it).
    """

    record: PersonRecord | None = None
    etag: str | None = None


@dataclass(frozen=True)
class PersonWrite:
    """A row to write conditionally on the version read.

    Attributes:
        record: The new record; with `GONE` as its hash, a tombstone.
        etag: The ETag read (None: the row must still not exist).
    """

    record: PersonRecord
    etag: str | None


def _from_entity(entity: Any) -> PersonRecord:
    written = from_iso(entity.get("written_at"))
    assert written is not None
    return PersonRecord(
        user_id=str(entity["RowKey"]),
        item_id=str(entity["item_id"]),
        content_hash=str(entity["hash"]),
        user_principal_name=str(entity.get("upn", "")),
        written_at=written,
        badge_ids=tuple(loads(entity.get("badge_ids"), [])),
        crawl_id=str(entity.get("crawl_id", "")),
    )


class PersonStore:
    """One row per person whose item exists in Graph."""

    def __init__(self, tables: Tables) -> None:
        """Read and write person rows in `tables`' people table."""
        self._tables = tables
        self._table = tables.table(ROLE)

    def get(self, user_id: str) -> PersonRecord | None:
        """The last write for a user, if their item exists."""
        return self.read(user_id).record

    def read(self, user_id: str) -> PersonVersion:
        """A user's row with its ETag, to compose from and write against."""
        try:
            entity = self._table.get_entity(PARTITION, user_id)
        except ResourceNotFoundError:
            return PersonVersion()
        record = _from_entity(entity)
        return PersonVersion(None if record.content_hash == GONE else record, etag_of(entity))

    def put_many(self, records: Iterable[PersonRecord]) -> int:
        """Remember writes unconditionally, in transactions (all people share one partition)."""
        return self._tables.upsert_many(ROLE, map(_to_entity, records))

    def write_many(self, writes: Sequence[PersonWrite]) -> list[str]:
        """Write rows each conditional on its version read; the users whose row changed since.

        One transaction per 100 rows while nobody else wrote any of them. A refused
        transaction names the row that failed its condition: that row is left out and the
        rest sent again, so a conflict costs one more transaction, never row-by-row writes.

        Returns:
            The user ids whose write was refused (someone else wrote their row meanwhile).
        """
        refused: list[str] = []
        for group in runs(
            writes,
            size=lambda w: len(json.dumps(_to_entity(w.record))) + ENTITY_OVERHEAD_BYTES,
            budget=TRANSACTION_BYTES,
            count=TRANSACTION_LIMIT,
        ):
            while group:
                try:
                    self._table.submit_transaction([_operation(write) for write in group])
                    break
                except TableTransactionError as error:
                    if error.status_code not in _REFUSED:
                        raise
                    # Naming the wrong row only makes that row be composed and written again.
                    index = error.index if 0 <= error.index < len(group) else 0
                    if self._holds(group[index].record):
                        break  # a resend of a transaction that had applied (it is atomic)
                    refused.append(group.pop(index).record.user_id)
        return refused

    def _holds(self, record: PersonRecord) -> bool:
        """Whether the row holds exactly `record`: written by us, its answer lost.

        The storage transport sends a request again when its answer was lost; if the first
        send had applied, the second is refused by its own write. `written_at` (to the
        microsecond) tells our write from another writer's.
        """
        try:
            entity = self._table.get_entity(PARTITION, record.user_id)
        except ResourceNotFoundError:
            return False
        expected = _to_entity(record)
        return all(entity.get(name) == value for name, value in expected.items())

    def records(self) -> Iterator[PersonRecord]:
        """Every person with an item, with the last write (a scan)."""
        query = f"PartitionKey eq {quote(PARTITION)}"
        for entity in self._table.query_entities(query):
            record = _from_entity(entity)
            if record.content_hash != GONE:
                yield record

    def user_ids(self, after: str = "") -> Iterator[str]:
        """Every person with an item, in id order, after `after` (read lazily: full crawls)."""
        query = f"PartitionKey eq {quote(PARTITION)}"
        if after:
            query += f" and RowKey gt {quote(after)}"
        for entity in self._table.query_entities(query, select=["RowKey", "hash"]):
            if entity.get("hash", GONE) != GONE:
                yield str(entity["RowKey"])


def _operation(write: PersonWrite) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The transaction operation of a conditional write: create, or replace if unchanged."""
    entity = _to_entity(write.record)
    if write.etag is None:
        return ("create", entity, {})
    options = {
        "mode": UpdateMode.REPLACE,
        "etag": write.etag,
        "match_condition": MatchConditions.IfNotModified,
    }
    return ("update", entity, options)
