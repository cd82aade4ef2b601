"""The badge list's `filter` parameter: its parsed value, its parser and the matching.

Only the keys the connector and its tests send are served: `state`, `issuer_earner_id` and
the lower date bounds (`updated_at_min` is the incremental crawl's). Any other key is refused,
so a connector that starts sending one finds out here. Pure: the server parses `filter` into a
hashable `BadgeFilter` (which also keys its cache) and narrows a snapshot of badges with it.
A bad value raises `QueryError` (answered 422).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from operator import attrgetter

from devstack.credly.errors import QueryError
from devstack.credly.records import BADGE_STATES, IssuedBadge

DATE_FIELDS = ("issued_at", "updated_at", "created_at", "state_updated_at")
SET_KEYS = ("state", "issuer_earner_id")
FILTER_KEYS = SET_KEYS + tuple(f"{name}_min" for name in DATE_FIELDS)

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
    """A parsed `filter` parameter; None means the key was not given.

    Hashable, so it can key the server's cache.

    Attributes:
        states: Badge states to keep.
        issuer_earner_ids: Issuer-side earner ids to keep.
        bounds: `(field, instant)` pairs: keep badges whose field is at or after the instant.
    """

    states: frozenset[str] | None = None
    issuer_earner_ids: frozenset[str] | None = None
    bounds: tuple[tuple[str, datetime], ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the filter lets every badge through."""
        return self == BadgeFilter()


def parse_filter(raw: str | None) -> BadgeFilter:
    """Parse `key::v1,v2|key2::v` into a BadgeFilter.

    Set keys take comma-separated values (any may match); date keys take one `YYYY-MM-DD`
    date or ISO-8601 timestamp (naive ones are UTC). A key given twice is refused rather than
    guessed at.

    Args:
        raw: The decoded `filter` query parameter; None or empty for no filter.

    Returns:
        The parsed filter.

    Raises:
        QueryError: On a malformed item, an unknown key, a repeated key or a bad value.
    """
    states: frozenset[str] | None = None
    earners: frozenset[str] | None = None
    bounds: list[tuple[str, datetime]] = []
    given: set[str] = set()
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
        given.add(key)
        values = [v.strip() for v in value.split(",")]
        if not all(values):
            raise QueryError(f"filter {key!r} has an empty value")
        if key == "state":
            unknown = [s for s in values if s not in BADGE_STATES]
            if unknown:
                known = ", ".join(BADGE_STATES)
                raise QueryError(f"filter state has unknown value(s) {unknown}; known: {known}")
            states = frozenset(values)
        elif key == "issuer_earner_id":
            earners = frozenset(values)
        elif len(values) != 1:
            raise QueryError(f"filter {key!r} takes one value, got {len(values)}")
        else:
            bounds.append((key.removesuffix("_min"), parse_instant(key, values[0])))
    return BadgeFilter(states, earners, tuple(bounds))


def filter_key_given(raw: str | None, key: str) -> bool:
    """Whether the raw `filter` value holds an item for `key`."""
    return any(item.partition("::")[0].strip() == key for item in (raw or "").split("|"))


def without_filter_key(raw: str | None, key: str) -> str | None:
    """The raw `filter` value with every item for `key` left out (None when nothing is left)."""
    kept = [item for item in (raw or "").split("|") if item.partition("::")[0].strip() != key]
    return "|".join(kept) or None


def parse_instant(key: str, value: str) -> datetime:
    """Parse a date filter value as an aware UTC instant.

    Args:
        key: The filter key, for the error message.
        value: `YYYY-MM-DD` (midnight UTC) or an ISO-8601 timestamp (naive means UTC).

    Raises:
        QueryError: When the value is neither.
    """
    try:
        if _DATE_ONLY.match(value):
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"filter {key!r}: {value!r} is not a date (YYYY-MM-DD) or an ISO-8601 timestamp"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def filter_badges(badges: Iterable[IssuedBadge], badge_filter: BadgeFilter) -> list[IssuedBadge]:
    """The badges that match every key of the filter, in their given order."""
    items = list(badges)
    if badge_filter.states is not None:
        items = [b for b in items if b.state in badge_filter.states]
    if badge_filter.issuer_earner_ids is not None:
        items = [b for b in items if b.issuer_earner_id in badge_filter.issuer_earner_ids]
    for name, at in badge_filter.bounds:
        get = attrgetter(name)
        items = [b for b in items if get(b) >= at]
    return items
