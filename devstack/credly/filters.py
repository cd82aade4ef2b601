"""The badge list's `filter` parameter: its parsed value, its parser and the matching.

Pure: the server parses `filter` into a hashable `BadgeFilter` (which also keys its cache)
and narrows a snapshot of badges with it. A bad value raises `QueryError` (answered 422).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import Any

from devstack.credly.errors import QueryError
from devstack.credly.records import BADGE_STATES, CredlyUser, IssuedBadge

DATE_FIELDS = ("issued_at", "updated_at", "created_at", "state_updated_at")
SET_KEYS = (
    "state",
    "public",
    "recipient_email",
    "recipient_email_all",
    "badge_template_id",
    "issuer_earner_id",
)
FILTER_KEYS = SET_KEYS + tuple(f"{name}_{end}" for name in DATE_FIELDS for end in ("min", "max"))

UPDATED_AT_MIN_MODE = "credly.badges.updated_at_min"
"""The knob mode saying what the badge list does with `updated_at_min` (see `KEY_MODES`)."""
ACCEPT, REJECT, IGNORE = "accept", "reject", "ignore"
KEY_MODES = (ACCEPT, REJECT, IGNORE)
"""Credly documents `updated_at_min` for badge templates only; for issued badges it may apply
the key (`accept`, the default), refuse the request with 400 (`reject`) or drop the key
silently and list everything (`ignore`)."""

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class TimeBound:
    """One date filter: `field >= at` for a lower bound, `field < at` for an upper bound.

    Upper bounds are exclusive here so that a date-only `*_max` covers its whole day and a
    timestamp `*_max` is inclusive (it is stored one microsecond later).
    """

    field: str
    at: datetime
    upper: bool


@dataclass(frozen=True)
class BadgeFilter:
    """A parsed `filter` parameter; None means the key was not given.

    Hashable, so it can key the server's cache. Emails are kept lower-cased.
    """

    states: frozenset[str] | None = None
    public: frozenset[bool] | None = None
    recipient_emails: frozenset[str] | None = None
    recipient_emails_all: frozenset[str] | None = None
    template_ids: frozenset[str] | None = None
    issuer_earner_ids: frozenset[str] | None = None
    bounds: tuple[TimeBound, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the filter lets every badge through."""
        return self == BadgeFilter()


def parse_filter(raw: str | None) -> BadgeFilter:
    """Parse `key::v1,v2|key2::v` into a BadgeFilter.

    Supported keys are `FILTER_KEYS`. Set keys take comma-separated values (any may match);
    date keys (`<field>_min`, `<field>_max`) take one `YYYY-MM-DD` date or ISO-8601 timestamp
    (naive ones are UTC). A key given twice is refused rather than guessed at.

    Args:
        raw: The decoded `filter` query parameter; None or empty for no filter.

    Returns:
        The parsed filter.

    Raises:
        QueryError: On a malformed item, an unknown key, a repeated key or a bad value.
    """
    if not raw:
        return BadgeFilter()
    given: dict[str, list[str]] = {}
    for item in raw.split("|"):
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
        values = [v.strip() for v in value.split(",")]
        if not all(values):
            raise QueryError(f"filter {key!r} has an empty value")
        given[key] = values
    return _build_filter(given)


def filter_key_given(raw: str | None, key: str) -> bool:
    """Whether the raw `filter` value holds an item for `key`."""
    return any(item.partition("::")[0].strip() == key for item in (raw or "").split("|"))


def without_filter_key(raw: str | None, key: str) -> str | None:
    """The raw `filter` value with every item for `key` left out (None when nothing is left)."""
    kept = [item for item in (raw or "").split("|") if item.partition("::")[0].strip() != key]
    return "|".join(kept) or None


def _build_filter(given: Mapping[str, list[str]]) -> BadgeFilter:
    fields: dict[str, Any] = {}
    if "state" in given:
        unknown = [s for s in given["state"] if s not in BADGE_STATES]
        if unknown:
            raise QueryError(
                f"filter state has unknown value(s) {unknown}; known: {', '.join(BADGE_STATES)}"
            )
        fields["states"] = frozenset(given["state"])
    if "public" in given:
        fields["public"] = frozenset(_parse_bool("public", v) for v in given["public"])
    for key, attr in (
        ("recipient_email", "recipient_emails"),
        ("recipient_email_all", "recipient_emails_all"),
    ):
        if key in given:
            fields[attr] = frozenset(v.lower() for v in given[key])
    if "badge_template_id" in given:
        fields["template_ids"] = frozenset(given["badge_template_id"])
    if "issuer_earner_id" in given:
        fields["issuer_earner_ids"] = frozenset(given["issuer_earner_id"])
    bounds = []
    for key, values in given.items():
        if key in SET_KEYS:
            continue
        name, _, end = key.rpartition("_")
        if len(values) != 1:
            raise QueryError(f"filter {key!r} takes one value, got {len(values)}")
        at, date_only = parse_instant(key, values[0])
        upper = end == "max"
        if upper:
            at += timedelta(days=1) if date_only else _ONE_MICROSECOND
        bounds.append(TimeBound(name, at, upper))
    return BadgeFilter(bounds=tuple(bounds), **fields)


def _parse_bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise QueryError(f"filter {key!r} takes true or false, got {value!r}")
    return lowered == "true"


def parse_instant(key: str, value: str) -> tuple[datetime, bool]:
    """Parse a date filter value.

    Args:
        key: The filter key, for the error message.
        value: `YYYY-MM-DD` (midnight UTC) or an ISO-8601 timestamp (naive means UTC).

    Returns:
        The instant as an aware UTC datetime, and whether the value was a bare date.

    Raises:
        QueryError: When the value is neither.
    """
    try:
        if _DATE_ONLY.match(value):
            return datetime.combine(date.fromisoformat(value), time(), UTC), True
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"filter {key!r}: {value!r} is not a date (YYYY-MM-DD) or an ISO-8601 timestamp"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), False


def filter_badges(
    badges: Iterable[IssuedBadge], badge_filter: BadgeFilter, users: Mapping[str, CredlyUser]
) -> list[IssuedBadge]:
    """The badges that match every key of the filter, in their given order.

    Args:
        badges: The badges to narrow.
        badge_filter: The parsed filter.
        users: Earner accounts by id, for `recipient_email_all` (which also matches the
            email of the badge's Credly user).

    Returns:
        The matching badges.
    """
    items = list(badges)
    f = badge_filter
    # One pass per key keeps each pass a tight comprehension; early keys shrink later passes.
    if f.states is not None:
        items = [b for b in items if b.state in f.states]
    if f.public is not None:
        items = [b for b in items if b.public in f.public]
    if f.template_ids is not None:
        items = [b for b in items if b.template_id in f.template_ids]
    if f.issuer_earner_ids is not None:
        items = [b for b in items if b.issuer_earner_id in f.issuer_earner_ids]
    if f.recipient_emails is not None:
        items = [b for b in items if b.recipient_email.lower() in f.recipient_emails]
    if f.recipient_emails_all is not None:
        emails = f.recipient_emails_all
        # Resolve the matching accounts once, from whichever side is smaller.
        if len(items) < len(users):
            present = {b.user_id for b in items if b.user_id is not None}
            holders = {u for u in present if u in users and users[u].email.lower() in emails}
        else:
            holders = {uid for uid, user in users.items() if user.email.lower() in emails}
        items = [b for b in items if b.user_id in holders or b.recipient_email.lower() in emails]
    for bound in f.bounds:
        get = attrgetter(bound.field)
        if bound.upper:
            items = [b for b in items if get(b) < bound.at]
        else:
            items = [b for b in items if get(b) >= bound.at]
    return items
