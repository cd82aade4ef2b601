"""Per recipient email: whom it resolved to and, for each badge, included or why not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.stores.tables import Tables, dumps, encode_key, from_iso, loads, to_iso

ROLE = "recipients"
ROW = "decisions"


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
        "PartitionKey": encode_key(record.email),
        "RowKey": ROW,
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
        self._table = tables.table(ROLE)

    def get(self, email: str) -> RecipientRecord | None:
        """The decisions recorded for an email."""
        try:
            return _from_entity(self._table.get_entity(encode_key(email), ROW))
        except ResourceNotFoundError:
            return None

    def record(self, record: RecipientRecord) -> None:
        """Store `record` (one write: reading first to skip an equal row would cost as much)."""
        if not record.decisions:
            self._table.delete_entity(encode_key(record.email), ROW)
            return
        self._table.upsert_entity(_to_entity(record), mode=UpdateMode.REPLACE)
