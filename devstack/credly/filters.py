"""The badge list's `filter` and `sort` parameters: their parsers and the selection.

Only what the connector and its tests send is served: the filter keys `state`,
`issuer_earner_id` and `updated_at_min` (the incremental crawl's), and an ascending sort by
`created_at` or `issued_at`, the keys that never change. Anything else is refused with
`QueryError` (answered 422), so a connector that starts sending it finds out here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from operator import attrgetter

from devstack.credly.errors import QueryError
from devstack.credly.records import BADGE_STATES, IssuedBadge

FILTER_KEYS = ("state", "issuer_earner_id", "updated_at_min")
SORT_FIELDS = ("created_at", "issued_at")

UPDATED_AT_MIN_MODE = "credly.badges.updated_at_min"
"""The knob mode saying what the badge list does with `updated_at_min` (see `KEY_MODES`)."""
ACCEPT, REJECT, IGNORE = "accept", "reject", "ignore"
KEY_MODES = (ACCEPT, REJECT, IGNORE)
"""Credly documents `updated_at_min` for badge templates only; for issued badges it may apply
the key (`accept`, the default), refuse the request with 400 (`reject`) or drop the key
silently and list everything (`ignore`)."""

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class BadgeFilter:
    """A parsed `filter` parameter (hashable, it keys the selector's cache); None: not given.

    Attributes:
        states: Badge states to keep.
        issuer_earner_ids: Issuer-side earner ids to keep.
        updated_since: Keep badges updated at or after this instant.
    """

    states: frozenset[str] | None = None
    issuer_earner_ids: frozenset[str] | None = None
    updated_since: datetime | None = None

    def keeps(self, badge: IssuedBadge) -> bool:
        """Whether the badge matches every key given."""
        return (
            (self.states is None or badge.state in self.states)
            and (self.issuer_earner_ids is None or badge.issuer_earner_id in self.issuer_earner_ids)
            and (self.updated_since is None or badge.updated_at >= self.updated_since)
        )


def parse_filter(raw: str | None) -> BadgeFilter:
    """Parse `key::v1,v2|key2::v` into a BadgeFilter.

    Set keys take comma-separated values (any may match); `updated_at_min` takes one
    `YYYY-MM-DD` date or ISO-8601 timestamp (naive ones are UTC). A key given twice is refused
    rather than guessed at.

    Raises:
        QueryError: On a malformed item, an unknown key, a repeated key or a bad value.
    """
    given: dict[str, list[str]] = {}
    for item in raw.split("|") if raw else ():
        key, separator, value = item.partition("::")
        key = key.strip()
        if not separator or not key:
            raise QueryError(f"malformed filter item {item!r}: expected key::value")
        if key not in FILTER_KEYS:
            raise QueryError(
                f"unknown filter key {key!r}; supported keys: {', '.join(FILTER_KEYS)}"
            )
        if key in given:
            raise QueryError(f"filter key {key!r} is given more than once")
        given[key] = [v.strip() for v in value.split(",")]
        if not all(given[key]):
            raise QueryError(f"filter {key!r} has an empty value")
    states, earners = given.get("state"), given.get("issuer_earner_id")
    unknown = [s for s in states or () if s not in BADGE_STATES]
    if unknown:
        known = ", ".join(BADGE_STATES)
        raise QueryError(f"filter state has unknown value(s) {unknown}; known: {known}")
    since = given.get("updated_at_min")
    if since is not None and len(since) != 1:
        raise QueryError(f"filter 'updated_at_min' takes one value, got {len(since)}")
    return BadgeFilter(
        frozenset(states) if states else None,
        frozenset(earners) if earners else None,
        parse_instant(since[0]) if since else None,
    )


def parse_instant(value: str) -> datetime:
    """Parse `YYYY-MM-DD` (midnight UTC) or an ISO-8601 timestamp (naive means UTC).

    Raises:
        QueryError: When the value is neither.
    """
    try:
        if _DATE_ONLY.match(value):
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"filter 'updated_at_min': {value!r} is not a date (YYYY-MM-DD) or an ISO-8601 "
            "timestamp"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_sort(raw: str | None) -> str | None:
    """The `sort` parameter's field; None (issue order) when not given.

    Raises:
        QueryError: On any other key.
    """
    if raw and raw not in SORT_FIELDS:
        raise QueryError(f"unknown sort key {raw!r}; supported: {', '.join(SORT_FIELDS)}")
    return raw or None


def select_badges(
    badges: Iterable[IssuedBadge], badge_filter: BadgeFilter, sort: str | None
) -> list[IssuedBadge]:
    """The badges the filter keeps, by `sort` ascending; ties keep their (issue) order."""
    kept = [b for b in badges if badge_filter.keeps(b)]
    return sorted(kept, key=attrgetter(sort)) if sort else kept
