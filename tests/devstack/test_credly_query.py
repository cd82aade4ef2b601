"""The Credly stand-in's pure query functions: filter, sort, page and page metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from devstack.credly.errors import QueryError
from devstack.credly.filters import BadgeFilter, filter_badges, parse_filter
from devstack.credly.paging import PER_PAGE, page_items, page_metadata, page_url, parse_page
from devstack.credly.records import CredlyUser, IssuedBadge
from devstack.credly.sorting import SortKey, parse_sort, sort_badges


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def badge(
    badge_id: str,
    *,
    state: str = "accepted",
    public: bool = True,
    email: str = "someone@example.com",
    template_id: str = "t1",
    user_id: str | None = None,
    issued: str = "2024-01-01T00:00:00",
    updated: str | None = None,
    created: str | None = None,
    earner_id: str | None = None,
) -> IssuedBadge:
    return IssuedBadge(
        id=badge_id,
        org_id="org",
        template_id=template_id,
        recipient_email=email,
        issued_to_first_name="Ada",
        issued_to_last_name="Lovelace",
        user_id=user_id,
        state=state,
        public=public,
        issued_at=at(issued),
        expires_at=None,
        created_at=at(created or issued),
        updated_at=at(updated or issued),
        state_updated_at=at(issued),
        issuer_earner_id=earner_id,
    )


BADGES = [
    badge("b0", email="One@Example.com", user_id="u1", updated="2024-01-05T00:00:00"),
    badge("b1", state="pending", template_id="t2", issued="2024-01-02T00:00:00",
          updated="2024-01-05T00:00:00", earner_id="emp-1"),
    badge("b2", public=False, email="three@example.com", issued="2024-02-01T00:00:00",
          updated="2024-02-10T08:30:00"),
    badge("b3", state="revoked", email="one@example.com", template_id="t2",
          issued="2024-03-01T00:00:00", updated="2024-03-01T23:59:59.500000"),
]  # fmt: skip
USERS = {"u1": CredlyUser("u1", "Alice.Account@example.com", "Alice", "Account", "alice-account")}


def ids(items: list[IssuedBadge]) -> list[str]:
    return [b.id for b in items]


def select(raw: str) -> list[str]:
    return ids(filter_badges(BADGES, parse_filter(raw)))


# -- parse_filter ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, ""])
def test_no_filter_is_empty(raw: str | None) -> None:
    assert parse_filter(raw).is_empty


def test_filter_parses_every_set_key_with_multiple_values() -> None:
    parsed = parse_filter("state::accepted,pending|issuer_earner_id::e1")
    assert parsed == BadgeFilter(
        states=frozenset({"accepted", "pending"}),
        issuer_earner_ids=frozenset({"e1"}),
    )


def test_date_bounds_are_inclusive_lower_bounds_in_utc() -> None:
    parsed = parse_filter("updated_at_min::2024-01-05|created_at_min::2024-01-01T01:00:00+01:00")
    assert parsed.bounds == (
        ("updated_at", at("2024-01-05T00:00:00")),
        ("created_at", at("2024-01-01T00:00:00")),
    )


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("colour::red", "unknown filter key 'colour'"),
        ("state", "expected key::value"),
        ("state:accepted", "expected key::value"),
        ("state::accepted|", "expected key::value"),
        ("state::", "empty value"),
        ("state::accepted,", "empty value"),
        ("state::shiny", "unknown value"),
        ("updated_at_min::yesterday", "not a date"),
        ("updated_at_min::2024-13-01", "not a date"),
        ("updated_at_min::2024-01-01,2024-02-01", "takes one value"),
        ("state::accepted|state::pending", "more than once"),
    ],
)
def test_bad_filters_are_refused_with_a_clear_message(raw: str, fragment: str) -> None:
    with pytest.raises(QueryError, match=fragment):
        parse_filter(raw)


# -- filter_badges --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("state::accepted", ["b0", "b2"]),
        ("state::pending,revoked", ["b1", "b3"]),
        ("issuer_earner_id::emp-1", ["b1"]),
        ("updated_at_min::2024-02-10", ["b2", "b3"]),
        ("updated_at_min::2024-02-10T08:30:00Z", ["b2", "b3"]),
        ("updated_at_min::2024-02-10T08:30:00.001Z", ["b3"]),
    ],
)
def test_filter_selects_matching_badges_in_issue_order(raw: str, expected: list[str]) -> None:
    assert select(raw) == expected


# -- sort -----------------------------------------------------------------------------------


def test_parse_sort_reads_keys_and_direction() -> None:
    assert parse_sort("-updated_at|issued_at|created_at") == (
        SortKey("updated_at", descending=True),
        SortKey("issued_at"),
        SortKey("created_at"),
    )
    assert parse_sort("") == ()
    assert parse_sort(None) == ()


@pytest.mark.parametrize("raw", ["name", "-", "issued_at|", "+issued_at", "--issued_at"])
def test_unknown_sort_key_is_refused(raw: str) -> None:
    with pytest.raises(QueryError, match="unknown sort key"):
        parse_sort(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("issued_at", ["b0", "b1", "b2", "b3"]),
        ("-issued_at", ["b3", "b2", "b1", "b0"]),
        ("updated_at", ["b0", "b1", "b2", "b3"]),
        ("-updated_at", ["b3", "b2", "b0", "b1"]),
        ("created_at", ["b0", "b1", "b2", "b3"]),
        ("updated_at|-issued_at", ["b1", "b0", "b2", "b3"]),
        ("-updated_at|-issued_at", ["b3", "b2", "b1", "b0"]),
    ],
)
def test_sort_orders_with_ties_in_issue_order(raw: str, expected: list[str]) -> None:
    assert ids(sort_badges(BADGES, parse_sort(raw))) == expected


def test_sort_keeps_insertion_order_for_all_ties_both_directions() -> None:
    same = [badge(f"s{i}") for i in range(5)]
    for raw in ("issued_at", "-issued_at"):
        assert ids(sort_badges(same, parse_sort(raw))) == [f"s{i}" for i in range(5)]


# -- page -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [(None, 1), ("1", 1), ("7", 7), ("007", 7)])
def test_parse_page(raw: str | None, expected: int) -> None:
    assert parse_page(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "x", "1.5", "", " 2"])
def test_bad_page_is_refused(raw: str) -> None:
    with pytest.raises(QueryError, match="positive integer"):
        parse_page(raw)


def test_page_items_slices_fifty_and_is_empty_past_the_end() -> None:
    items = list(range(101))
    assert list(page_items(items, 1)) == list(range(50))
    assert list(page_items(items, 3)) == [100]
    assert list(page_items(items, 4)) == []


@pytest.mark.parametrize(
    ("total", "page", "expected"),
    [
        (0, 1, (0, 0, None, None)),
        (1, 1, (1, 1, None, None)),
        (50, 1, (50, 1, None, None)),
        (51, 1, (50, 2, None, 2)),
        (51, 2, (1, 2, 1, None)),
        (101, 2, (50, 3, 1, 3)),
        (101, 3, (1, 3, 2, None)),
        (101, 9, (0, 3, 8, None)),
    ],
)
def test_page_metadata_arithmetic(
    total: int, page: int, expected: tuple[int, int, int | None, int | None]
) -> None:
    count, pages, prev, next_ = expected
    meta = page_metadata(total, page, count, lambda n: f"u{n}")
    assert meta == {
        "count": count,
        "current_page": page,
        "total_count": total,
        "total_pages": pages,
        "per": PER_PAGE,
        "previous_page_url": None if prev is None else f"u{prev}",
        "next_page_url": None if next_ is None else f"u{next_}",
    }


def test_page_url_is_absolute_and_encodes_filter_and_sort() -> None:
    url = page_url(
        "https://h/v1/organizations/o/badges", 3, "recipient_email::a+b@x.com", "-issued_at"
    )
    assert url.startswith("https://h/v1/organizations/o/badges?page=3&filter=")
    assert "recipient_email%3A%3Aa%2Bb%40x.com" in url
    assert parse_qs(urlsplit(url).query) == {
        "page": ["3"],
        "filter": ["recipient_email::a+b@x.com"],
        "sort": ["-issued_at"],
    }
    assert page_url("https://h/x", 2, None, "") == "https://h/x?page=2"


def test_time_bound_on_many_badges_counts_exactly() -> None:
    base = at("2024-01-01T00:00:00")
    many = [badge(f"m{i}") for i in range(20_000)]
    for i, item in enumerate(many):
        item.updated_at = base + timedelta(seconds=i)
    parsed = parse_filter("state::accepted|updated_at_min::2024-01-01T05:00:00Z")
    assert len(filter_badges(many, parsed)) == 20_000 - 5 * 3600
