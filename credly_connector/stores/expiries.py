"""The expiry index: which recipients have a badge expiring on a given day.

A badge that expires changes nothing at Credly, so no incremental read would see it; the
index lets an incremental crawl recompose exactly the people whose badges expired since.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.rules.badges import Badge
from credly_connector.stores.tables import Tables, decode_key, encode_key, quote

ROLE = "expiries"
MAX_DAYS_SCANNED = 400


def _partition(when: datetime | date) -> str:
    return f"{when:%Y-%m-%d}"


class ExpiryStore:
    """Rows keyed by (expiry day, badge id) holding the recipient email."""

    def __init__(self, tables: Tables) -> None:
        self._table = tables.table(ROLE)

    def track(self, badge: Badge, previous: Badge | None = None) -> None:
        """Index a badge's expiry, moving it when an update changed the date."""
        old_day = None if previous is None or previous.expires_at is None else previous.expires_at
        new_day = badge.expires_at
        if old_day is not None and (new_day is None or _partition(old_day) != _partition(new_day)):
            self._table.delete_entity(_partition(old_day), badge.id)
        if badge.expires_at is not None:
            self._table.upsert_entity(
                {
                    "PartitionKey": _partition(badge.expires_at),
                    "RowKey": badge.id,
                    "email": encode_key(badge.recipient_email),
                },
                mode=UpdateMode.REPLACE,
            )

    def forget(self, badge: Badge) -> None:
        """Drop a removed badge row from the index (idempotent).

        Only when the index row is this row's: a badge moved to another recipient has a new
        row (same badge id) whose entry must stay.
        """
        if badge.expires_at is None:
            return
        try:
            entity = self._table.get_entity(_partition(badge.expires_at), badge.id)
        except ResourceNotFoundError:
            return
        if entity.get("email") != encode_key(badge.recipient_email):
            return
        with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
            self._table.delete_entity(
                entity, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified
            )

    def emails_expiring(self, after: datetime, until: datetime) -> set[str]:
        """Recipients with a badge expiring on a day from `after` to `until` (inclusive)."""
        first = after.date()
        last = until.date()
        if (last - first).days > MAX_DAYS_SCANNED:
            first = last - timedelta(days=MAX_DAYS_SCANNED)
        emails: set[str] = set()
        for day in _days(first, last):
            query = f"PartitionKey eq {quote(_partition(day))}"
            for entity in self._table.query_entities(query, select=["email"]):
                emails.add(decode_key(str(entity["email"])))
        return emails


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
