"""The expiry index: which recipients have a badge expiring on a given day.

A badge that expires changes nothing at Credly, so no incremental read would see it; the
index lets an incremental crawl recompose exactly the people whose badges expired since.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from credly_connector.rules.badges import Badge
from credly_connector.rules.eligibility import badge_exclusion
from credly_connector.stores.tables import Tables, decode_key, encode_key, quote

ROLE = "expiries"
_DAWN = datetime.min.replace(tzinfo=UTC)
MAX_DAYS_SCANNED = 400


def may_show(badge: Badge) -> bool:
    """Whether the badge is shown until it expires, the only case its expiry changes a profile.

    Revoked, replaced, unaccepted and private badges are never shown; when one of those
    changes, Credly's update of the badge (not its expiry) makes the crawl recompose it.
    """
    return badge_exclusion(badge, now=_DAWN, include_expired=True) is None


def _day(when: datetime | date) -> str:
    return f"{when:%Y-%m-%d}"


def _row_key(day: str, badge_id: str) -> str:
    return f"{day}|{encode_key(badge_id)}"


class ExpiryStore:
    """Rows keyed by (organisation, expiry day and badge id) holding the recipient email.

    One partition per organisation: a page's entries go in one transaction, and the days
    between two crawls are one range of the partition.
    """

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._tables = tables
        self._table = tables.table(ROLE)

    def track(self, badge: Badge, previous: Badge | None = None) -> None:
        """Index a badge's expiry (when it `may_show`), moving it when an update changed it."""
        self.track_many([(badge, previous)])

    def track_many(self, changes: Iterable[tuple[Badge, Badge | None]]) -> None:
        """Index the expiries of changed badges (each with the row it replaced, if any).

        Entries of an old expiry day are deleted one by one (a transaction would fail as a
        whole on one already gone); the new entries are written in transactions.
        """
        entries: list[dict[str, str]] = []
        for badge, previous in changes:
            old = None if previous is None or previous.expires_at is None else previous.expires_at
            new = badge.expires_at if may_show(badge) else None
            if old is not None and (new is None or _day(old) != _day(new)):
                with contextlib.suppress(ResourceNotFoundError):
                    self._table.delete_entity(badge.organization_id, _row_key(_day(old), badge.id))
            if new is not None:
                entries.append(
                    {
                        "PartitionKey": badge.organization_id,
                        "RowKey": _row_key(_day(new), badge.id),
                        "email": encode_key(badge.recipient_email),
                    }
                )
        self._tables.upsert_many(ROLE, entries)

    def forget(self, badge: Badge) -> None:
        """Drop a removed badge row from the index (idempotent).

        Only when the index row is this row's: a badge moved to another recipient has a new
        row (same badge id) whose entry must stay.
        """
        if badge.expires_at is None:
            return
        key = _row_key(_day(badge.expires_at), badge.id)
        try:
            entity = self._table.get_entity(badge.organization_id, key)
        except ResourceNotFoundError:
            return
        if entity.get("email") != encode_key(badge.recipient_email):
            return
        with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
            self._table.delete_entity(
                entity, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified
            )

    def emails_expiring(self, organization_id: str, after: datetime, until: datetime) -> set[str]:
        """Recipients with a badge of the organisation expiring from `after` to `until`.

        Whole days, both inclusive; at most `MAX_DAYS_SCANNED` days back from `until`.
        """
        first = after.date()
        last = until.date()
        if (last - first).days > MAX_DAYS_SCANNED:
            first = last - timedelta(days=MAX_DAYS_SCANNED)
        query = (
            f"PartitionKey eq {quote(organization_id)} and RowKey ge {quote(_day(first))} "
            f"and RowKey lt {quote(_day(last + timedelta(days=1)))}"
        )
        return {
            decode_key(str(entity["email"]))
            for entity in self._table.query_entities(query, select=["email"])
        }
