"""Per recipient email: whom it resolved to and, for each badge, included or why not."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from credly_connector.stores.tables import Tables, dumps, encode_key, from_iso, loads, to_iso

ROLE = "recipients"
# One partition: a batch's decisions are written in transactions.
PARTITION = "recipient"


@dataclass(frozen=True)
class RecipientRecord:
    """The latest decisions about one recipient email's badges.

    Attributes:
        decisions: Badge id to None (included) or the exclusion reason.
    """

    email: str
    user_id: str | None
    method: str | None
    reason: str | None
    decisions: dict[str, str | None] = field(default_factory=dict)
    decided_at: datetime | None = field(default=None, compare=False)
    crawl_id: str = field(default="", compare=False)


def _to_entity(record: RecipientRecord) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": encode_key(record.email),
        "email": record.email,
        "user_id": record.user_id or "",
        "method": record.method or "",
        "reason": record.reason or "",
        "decisions": dumps(record.decisions),
        "decided_at": to_iso(record.decided_at),
        "crawl_id": record.crawl_id,
    }


def _from_entity(entity: Any) -> RecipientRecord:
    return RecipientRecord(
        email=str(entity["email"]),
        user_id=str(entity.get("user_id") or "") or None,
        method=str(entity.get("method") or "") or None,
        reason=str(entity.get("reason") or "") or None,
        decisions=loads(entity.get("decisions"), {}),
        decided_at=from_iso(entity.get("decided_at")),
        crawl_id=str(entity.get("crawl_id", "")),
    )


class RecipientStore:
    """One row per recipient email: the latest decisions about its badges."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._tables = tables
        self._table = tables.table(ROLE)

    def get(self, email: str) -> RecipientRecord | None:
        """The decisions recorded for an email."""
        try:
            return _from_entity(self._table.get_entity(PARTITION, encode_key(email)))
        except ResourceNotFoundError:
            return None

    def record(self, record: RecipientRecord) -> None:
        """Store `record` (a write: reading first to skip an equal row would cost as much)."""
        self.record_many([record])

    def record_many(self, records: Iterable[RecipientRecord]) -> None:
        """Store records in transactions; an email with no badge left loses its row."""
        kept: list[dict[str, Any]] = []
        for record in records:
            if record.decisions:
                kept.append(_to_entity(record))
            else:  # one by one: a transaction fails as a whole on a row already gone
                with contextlib.suppress(ResourceNotFoundError):
                    self._table.delete_entity(PARTITION, encode_key(record.email))
        self._tables.upsert_many(ROLE, kept)
