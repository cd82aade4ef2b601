"""Processed Credly webhook events: what each did, and the recipients an unfinished one touched.

The record never decides whether an event is applied (the badge is always re-read from
Credly, so a replay finds nothing to change); it serves telemetry, and carries the emails an
interrupted event already changed so its redelivery still recomposes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.stores.tables import Tables, dumps, from_iso, loads, to_iso

ROLE = "events"


class EventStatus(StrEnum):
    """Where the handling of one Credly event stands."""

    PENDING = "pending"
    """Badge rows are being changed; `emails` lists every recipient to recompose."""
    DONE = "done"
    """Applied (or found nothing to change) and its people recomposed."""
    IGNORED = "ignored"
    """Not a badge event, or names no badge: nothing to do."""
    FAILED = "failed"
    """Exhausted its deliveries; the next crawl reconciles the badge."""


_STATUSES = frozenset(EventStatus)


@dataclass(frozen=True)
class EventRecord:
    """One Credly event as the connector handled it.

    Attributes:
        organization_id: The organisation the event belongs to.
        event_id: Credly's event id.
        status: An `EventStatus`: `pending`, `done`, `ignored` or `failed`.
        event_type: The type Credly reported when the event was fetched.
        badge_id: The badge the event named, if any.
        outcome: What handling found, e.g. `applied`, `unchanged`, `gone`, `ignored_type`.
        emails: Recipients to recompose; kept only while `pending`.
        counts: Items written/deleted/unchanged by the recomposition.
        updated_at: When the record was last written.
    """

    organization_id: str
    event_id: str
    status: str
    event_type: str = ""
    badge_id: str = ""
    outcome: str = ""
    emails: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    updated_at: datetime | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The record for ops answers and logs (no emails)."""
        return {
            "organizationId": self.organization_id,
            "id": self.event_id,
            "status": self.status,
            "eventType": self.event_type,
            "badgeId": self.badge_id,
            "outcome": self.outcome,
            "counts": dict(self.counts),
            "updatedAt": to_iso(self.updated_at) or None,
        }


def _to_entity(record: EventRecord) -> dict[str, Any]:
    return {
        "PartitionKey": record.organization_id,
        "RowKey": record.event_id,
        "status": record.status,
        "event_type": record.event_type,
        "badge_id": record.badge_id,
        "outcome": record.outcome,
        "emails": dumps(list(record.emails)),
        "counts": dumps(record.counts),
        "updated_at": to_iso(record.updated_at),
    }


def _record(entity: Any) -> EventRecord:
    return EventRecord(
        organization_id=str(entity["PartitionKey"]),
        event_id=str(entity["RowKey"]),
        status=str(entity.get("status") or ""),
        event_type=str(entity.get("event_type") or ""),
        badge_id=str(entity.get("badge_id") or ""),
        outcome=str(entity.get("outcome") or ""),
        emails=tuple(str(e) for e in loads(entity.get("emails"), [])),
        counts={str(k): int(v) for k, v in loads(entity.get("counts"), {}).items()},
        updated_at=from_iso(entity.get("updated_at")),
    )


class EventStore:
    """One row per event, partitioned by organisation.

    Event ids reach this store only after Credly confirmed them, so forged notifications
    never add rows.
    """

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._table = tables.table(ROLE)

    def get(self, organization_id: str, event_id: str) -> EventRecord | None:
        """The record of one event, if it was handled before."""
        try:
            return _record(self._table.get_entity(organization_id, event_id))
        except ResourceNotFoundError:
            return None

    def put(self, record: EventRecord) -> None:
        """Write (replace) an event's record."""
        if record.status not in _STATUSES:
            raise ValueError(f"unknown event status {record.status!r}")
        self._table.upsert_entity(_to_entity(record), mode=UpdateMode.REPLACE)
