"""The Credly stand-in's badge-list query language: filter, sort, page and the page envelope.

Everything here is pure: the server parses the query parameters into values, narrows and
orders a snapshot of badges with them, and builds the `metadata` block from plain numbers.
A bad parameter raises `QueryError`, which the server answers with 422.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import Any, TypeVar
from urllib.parse import urlencode

from devstack.credly.records import BADGE_STATES, CredlyUser, IssuedBadge

PER_PAGE = 50
"""Credly's fixed page size ("At most 50 results are returned at a time")."""

SORT_FIELDS = ("created_at", "issued_at", "updated_at")
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

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PAGE = re.compile(r"^\d+$")
_ONE_MICROSECOND = timedelta(microseconds=1)

T = TypeVar("T")


class QueryError(ValueError):
    """A `filter`, `sort` or `page` value the API refuses (answered with 422)."""


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


@dataclass(frozen=True)
class SortKey:
    """One `sort` key: a badge timestamp field, ascending unless `descending`."""

    field: str
    descending: bool = False


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


@dataclass(frozen=True)
class EmailIndex:
    """An organisation's badges beside their lower-cased emails, and the earners' emails.

    Lower-casing 200,000 scattered addresses costs more than a page is allowed to, so the
    server builds this once per data version. Flat lists of strings, not a dict of lists:
    200,000 small lists would cost more in garbage-collector passes than they save.
    """

    badges: list[IssuedBadge]
    emails: list[str]
    holders: list[str | None]
    user_ids: list[str]
    user_emails: list[str]


def build_email_index(badges: Sequence[IssuedBadge], users: Mapping[str, CredlyUser]) -> EmailIndex:
    """Index badges (in their given order) by lower-cased recipient email."""
    user_ids = list(users)
    return EmailIndex(
        badges=list(badges),
        emails=[b.recipient_email.lower() for b in badges],
        holders=[b.user_id for b in badges],
        user_ids=user_ids,
        user_emails=[users[uid].email.lower() for uid in user_ids],
    )


def narrow_by_email(index: EmailIndex, badge_filter: BadgeFilter) -> list[IssuedBadge] | None:
    """The indexed badges the filter's email keys match, in order; None without such keys.

    The result holds exactly the badges the email keys match; `filter_badges` then applies
    every key to it.
    """
    wanted, every = badge_filter.recipient_emails, badge_filter.recipient_emails_all
    if wanted is None and every is None:
        return None
    holders: set[str | None] = set()
    if every is not None:
        users = zip(index.user_ids, index.user_emails, strict=True)
        holders = {uid for uid, email in users if email in every}
    # Only flat lists are touched per badge: reading attributes of 200,000 scattered
    # records is what makes the unindexed filter slow.
    return [
        b
        for b, email, holder in zip(index.badges, index.emails, index.holders, strict=True)
        if (wanted is None or email in wanted)
        and (every is None or email in every or holder in holders)
    ]


def parse_sort(raw: str | None) -> tuple[SortKey, ...]:
    """Parse `key1|-key2` (leading `-` for descending) into sort keys.

    Args:
        raw: The decoded `sort` query parameter; None or empty for issue order.

    Returns:
        The keys, most significant first.

    Raises:
        QueryError: On an empty or unknown key.
    """
    if not raw:
        return ()
    keys = []
    for item in raw.split("|"):
        name = item.strip()
        descending = name.startswith("-")
        name = name.removeprefix("-")
        if name not in SORT_FIELDS:
            raise QueryError(f"unknown sort key {item!r}; supported: {', '.join(SORT_FIELDS)}")
        keys.append(SortKey(name, descending))
    return tuple(keys)


def sort_badges(badges: Iterable[IssuedBadge], keys: Sequence[SortKey]) -> list[IssuedBadge]:
    """The badges ordered by the keys; ties keep their given (issue) order, so paging is stable.

    Args:
        badges: The badges, in issue order.
        keys: The sort keys, most significant first.

    Returns:
        A new sorted list.
    """
    items = list(badges)
    # Python's sort is stable, also with reverse=True, so sorting by the least significant
    # key first and the most significant last gives a lexicographic, stable order.
    for key in reversed(keys):
        items.sort(key=attrgetter(key.field), reverse=key.descending)
    return items


def parse_page(raw: str | None) -> int:
    """Parse the `page` parameter (1-based; default 1).

    Raises:
        QueryError: When it is not a positive integer.
    """
    if raw is None:
        return 1
    if not _PAGE.match(raw) or int(raw) < 1:
        raise QueryError(f"page must be a positive integer, got {raw!r}")
    return int(raw)


def page_items(items: Sequence[T], page: int, per: int = PER_PAGE) -> Sequence[T]:
    """The items of one page (empty past the end)."""
    return items[(page - 1) * per : page * per]


def page_url(base: str, page: int, filter_raw: str | None, sort_raw: str | None) -> str:
    """An absolute page URL carrying the same filter and sort, URL-encoded.

    Args:
        base: Scheme, host and path of the list, e.g. `https://h/v1/organizations/o/badges`.
        page: The page number.
        filter_raw: The decoded `filter` the request carried (omitted when empty).
        sort_raw: The decoded `sort` the request carried (omitted when empty).
    """
    params: list[tuple[str, str]] = [("page", str(page))]
    if filter_raw:
        params.append(("filter", filter_raw))
    if sort_raw:
        params.append(("sort", sort_raw))
    return f"{base}?{urlencode(params)}"


def page_metadata(
    total_count: int,
    page: int,
    count: int,
    url_for: Callable[[int], str],
    per: int = PER_PAGE,
) -> dict[str, Any]:
    """The `metadata` block of a list response.

    `total_pages` is 0 for an empty list. `previous_page_url` is null on page 1 and
    `next_page_url` on the last page and beyond; a page past the end still links back.

    Args:
        total_count: How many items match in all.
        page: The current page (1-based).
        count: How many items this page holds.
        url_for: Builds the absolute URL of a page number.
        per: The page size.
    """
    total_pages = math.ceil(total_count / per)
    return {
        "count": count,
        "current_page": page,
        "total_count": total_count,
        "total_pages": total_pages,
        "per": per,
        "previous_page_url": url_for(page - 1) if page > 1 else None,
        "next_page_url": url_for(page + 1) if page < total_pages else None,
    }
