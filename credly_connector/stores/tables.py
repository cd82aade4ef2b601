"""The connector's tables on one storage account: names, key encoding, clients, creation."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from credly_connector.chunking import runs
from credly_connector.errors import StorageMissingError
from credly_connector.stores.transactions import encodable, submit_upserts
from credly_connector.stores.transport import storage_transport

TABLE_NAMES = (
    "crawls",
    "crawlsteps",
    "crawlsets",
    "leases",
    "orgstate",
    "badges",
    "badgeids",
    "expiries",
    "recipients",
    "people",
    "directory",
    "overrides",
    "previews",
    "events",
    "slots",
)
# Table Storage refuses these in PartitionKey/RowKey; '%' is escaped too so decoding is exact.
_KEY_UNSAFE = frozenset("/\\#?%")
TRANSACTION_LIMIT = 100
# A transaction's body may hold 4 MB; this leaves room for the multipart framing.
TRANSACTION_BYTES = 3_000_000
# Per entity in a transaction body: the part headers and the request line.
ENTITY_OVERHEAD_BYTES = 600
# Entities whose bound (`entity_size`) stays under this are not serialised to be weighed:
# a full transaction of them stays within `TRANSACTION_BYTES`.
CHEAP_SIZE_BYTES = TRANSACTION_BYTES // TRANSACTION_LIMIT
# The storage services' error codes for an account where setup has not created our storage.
_MISSING_CODES = frozenset({"TableNotFound", "QueueNotFound"})


@contextlib.contextmanager
def storage_required() -> Iterator[None]:
    """Run a block that needs the connector's tables and queues; raise if they are missing.

    The stores leave the SDK's not-found errors as they are (a missing entity, or a crawl's
    own table not made yet, is an answer to them); only an operation as a whole, ended by a
    missing table or queue, is turned into the connector's error here.

    Raises:
        StorageMissingError: When a table or queue the block used does not exist.
    """
    try:
        yield
    except ResourceNotFoundError as error:
        if getattr(error, "error_code", None) not in _MISSING_CODES:
            raise
        raise StorageMissingError from error


def encode_key(value: str) -> str:
    """`value` made safe as a PartitionKey or RowKey (reversible percent-escaping)."""
    out = []
    for char in value:
        code = ord(char)
        if char in _KEY_UNSAFE or code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"%{code:02X}" if code < 0x100 else f"%u{code:04X}")
        else:
            out.append(char)
    return "".join(out)


def decode_key(key: str) -> str:
    """The value `encode_key` escaped."""
    out = []
    i = 0
    while i < len(key):
        if key[i] == "%":
            if key[i + 1] == "u":
                out.append(chr(int(key[i + 2 : i + 6], 16)))
                i += 6
            else:
                out.append(chr(int(key[i + 1 : i + 3], 16)))
                i += 3
        else:
            out.append(key[i])
            i += 1
    return "".join(out)


def quote(value: str) -> str:
    """A string literal for an OData filter."""
    return "'" + value.replace("'", "''") + "'"


def range_query(partition: str, low: str = "", high: str = "") -> str:
    """The filter of `partition`'s rows with row keys in `[low, high)` ('' = unbounded)."""
    query = f"PartitionKey eq {quote(partition)}"
    if low:
        query += f" and RowKey ge {quote(low)}"
    if high:
        query += f" and RowKey lt {quote(high)}"
    return query


def windows(start: str, splits: Sequence[str]) -> list[tuple[str, str]]:
    """The ranges `[low, high)` between sorted `splits` that cover every key from `start` on.

    A walk of a large partition queries them one after another, each bounded on both sides.
    The service answers any range from its index; Azurite, the local emulator, sorts every
    row past the lower bound for each page of a query bounded below only, which made a walk
    of 200,000 rows in pages of 1,000 cost it about a second a page.
    """
    inside = [split for split in splits if split > start]
    return list(zip([start, *inside], [*inside, ""], strict=True))


def to_iso(value: datetime | None) -> str:
    """A UTC timestamp as stored ('' for None)."""
    return "" if value is None else value.astimezone(UTC).isoformat()


def from_iso(value: Any) -> datetime | None:
    """The timestamp `to_iso` stored (None for '' or a missing property)."""
    if not value:
        return None
    return datetime.fromisoformat(str(value))


def dumps(value: Any) -> str:
    """Compact JSON for a string property."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def loads(value: Any, default: Any) -> Any:
    """JSON from a string property, or `default` when missing."""
    return json.loads(value) if value else default


def etag_of(entity: Any) -> str | None:
    """The ETag the service returned with an entity."""
    metadata = getattr(entity, "metadata", None) or {}
    etag = metadata.get("etag")
    return str(etag) if etag else None


def chunked(
    entities: Iterable[dict[str, Any]], size: int = TRANSACTION_LIMIT
) -> Iterator[list[dict[str, Any]]]:
    """Entities in groups a transaction accepts (same partition, at most 100)."""
    return runs(entities, size=lambda _: 0, budget=0, count=size)


def transactions(
    entities: Iterable[dict[str, Any]], budget: int = TRANSACTION_BYTES
) -> Iterator[list[dict[str, Any]]]:
    """Entities grouped for transactions: one partition each, at most 100, within `budget`.

    Partitions and rows keep the order they first appear in. The size is measured as JSON with ASCII
    escapes (how the SDK sends it), so the service's 4 MB limit is never reached; an entity
    over the budget on its own goes alone (the service then judges it).
    """
    # A transaction takes each row once: a later entity of the same key replaces the earlier
    # one, as a second upsert would.
    by_partition: dict[str, dict[str, dict[str, Any]]] = {}
    for entity in entities:
        by_partition.setdefault(str(entity["PartitionKey"]), {})[str(entity["RowKey"])] = entity
    for rows in by_partition.values():
        yield from runs(rows.values(), size=entity_size, budget=budget, count=TRANSACTION_LIMIT)


def entity_size(entity: dict[str, Any]) -> int:
    """An entity's weight in a transaction body: never below what it sends, cheap when small.

    A bound from the lengths first (a character sent as JSON takes at most 12 ASCII bytes, a
    surrogate pair's escapes): while it stays under `CHEAP_SIZE_BYTES`, a full transaction of
    such entities fits the budget anyway, so serialising each one to weigh it would only cost
    CPU (it was a tenth of a page's). Larger entities are weighed exactly.
    """
    bound = ENTITY_OVERHEAD_BYTES
    for name, value in entity.items():
        text = value if isinstance(value, str) else str(value)
        bound += 12 * (len(name) + len(text)) + 32
    if bound <= CHEAP_SIZE_BYTES:
        return bound
    return len(json.dumps(entity, default=str)) + ENTITY_OVERHEAD_BYTES


class Tables:
    """The connector's tables on one account, named with an optional prefix.

    The prefix lets tests and benchmarks share one storage account without seeing each
    other's state; a deployment uses none.
    """

    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        """The tables of `service`, each named with `prefix` before its role."""
        self.service = service
        self.prefix = prefix
        self._clients: dict[str, TableClient] = {}

    @classmethod
    def from_connection_string(
        cls, connection_string: str, prefix: str = "", **options: Any
    ) -> Tables:
        """Tables on the account of a connection string (`options` go to the SDK client)."""
        service = TableServiceClient.from_connection_string(
            connection_string, transport=storage_transport(), **options
        )
        return cls(service, prefix)

    def name(self, role: str) -> str:
        """The table name of a role in `TABLE_NAMES`."""
        return f"{self.prefix}{role}"

    def table(self, role: str) -> TableClient:
        """A client for the table of `role` (cached)."""
        client = self._clients.get(role)
        if client is None:
            client = self.service.get_table_client(self.name(role))
            self._clients[role] = client
        return client

    def ensure(self) -> int:
        """Create every table that does not exist yet; returns how many were created."""
        created = 0
        for role in TABLE_NAMES:
            with contextlib.suppress(ResourceExistsError):
                self.service.create_table(self.name(role))
                created += 1
        return created

    def upsert_many(self, role: str, entities: Iterable[dict[str, Any]]) -> int:
        """Upsert (replace) entities in as few transactions as their partitions allow.

        Each transaction is atomic; a failure after some transactions leaves those written,
        which callers tolerate because every write here is idempotent.

        Returns:
            The number of entities written.
        """
        written = 0
        for batch in transactions(entities):
            if all(map(encodable, batch)):
                submit_upserts(self.table(role), batch)
            else:
                self.table(role).submit_transaction(
                    [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in batch]
                )
            written += len(batch)
        return written

    def delete_partition(self, role: str, partition: str, where: str = "") -> int:
        """Delete every row of one partition (matching the OData filter `where`, if given).

        Returns:
            The number of rows deleted.
        """
        query = f"PartitionKey eq {quote(partition)}" + (f" and {where}" if where else "")
        keys = [
            {"PartitionKey": partition, "RowKey": str(entity["RowKey"])}
            for entity in self.table(role).query_entities(query, select=["RowKey"])
        ]
        for batch in chunked(keys):
            self.table(role).submit_transaction([("delete", key) for key in batch])
        return len(keys)
