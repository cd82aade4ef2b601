"""What was last written to Graph for each person: the item's content hash and when."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from credly_connector.stores.tables import Tables, dumps, from_iso, loads, quote, to_iso

ROLE = "people"
PARTITION = "person"


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
        self._tables = tables
        self._table = tables.table(ROLE)

    def get(self, user_id: str) -> PersonRecord | None:
        """The last write for a user, if their item exists."""
        try:
            return _from_entity(self._table.get_entity(PARTITION, user_id))
        except ResourceNotFoundError:
            return None

    def put_many(self, records: Iterable[PersonRecord]) -> int:
        """Remember writes, in transactions (all people share one partition)."""
        return self._tables.upsert_many(ROLE, map(_to_entity, records))

    def delete(self, user_id: str) -> None:
        """Forget a person whose item was deleted (idempotent)."""
        self._table.delete_entity(PARTITION, user_id)

    def records(self) -> Iterator[PersonRecord]:
        """Every person with an item, with the last write (a scan)."""
        query = f"PartitionKey eq {quote(PARTITION)}"
        for entity in self._table.query_entities(query):
            yield _from_entity(entity)

    def user_ids(self) -> Iterator[str]:
        """Every person with an item (a scan: full crawls only)."""
        query = f"PartitionKey eq {quote(PARTITION)}"
        for entity in self._table.query_entities(query, select=["RowKey"]):
            yield str(entity["RowKey"])
