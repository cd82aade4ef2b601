"""The Credly stand-in's pure query functions: filter, sort, page and page metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from devstack.credly.errors import QueryError
from devstack.credly.filters import BadgeFilter, parse_filter, parse_sort, select_badges
from devstack.credly.paging import PER_PAGE, page_envelope, page_url, parse_page
from devstack.credly.records import IssuedBadge


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


def ids(items: list[IssuedBadge]) -> list[str]:
    return [b.id for b in items]


def select(raw: str) -> list[str]:
    return ids(select_badges(BADGES, parse_filter(raw), None))


# -- parse_filter ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, ""])
def test_no_filter_is_empty(raw: str | None) -> None:
    assert parse_filter(raw) == BadgeFilter()


def test_filter_parses_every_set_key_with_multiple_values() -> None:
    parsed = parse_filter("state::accepted,pending|issuer_earner_id::e1")
    assert parsed == BadgeFilter(
        states=frozenset({"accepted", "pending"}),
        issuer_earner_ids=frozenset({"e1"}),
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-05", "2024-01-05T00:00:00"),
        ("2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00"),
        ("2024-01-01T01:00:00", "2024-01-01T01:00:00"),
    ],
)
def test_updated_at_min_is_an_instant_in_utc(raw: str, expected: str) -> None:
    assert parse_filter(f"updated_at_min::{raw}").updated_since == at(expected)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("colour::red", "unknown filter key 'colour'"),
        ("created_at_min::2024-01-01", "unknown filter key 'created_at_min'"),
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


# -- select_badges --------------------------------------------------------------------------


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


@pytest.mark.parametrize("raw", ["updated_at", "-issued_at", "name", "issued_at|created_at"])
def test_only_the_connectors_sort_keys_are_accepted(raw: str) -> None:
    assert parse_sort(None) is None
    assert parse_sort("") is None
    assert parse_sort("issued_at") == "issued_at"
    with pytest.raises(QueryError, match="unknown sort key"):
        parse_sort(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("state::accepted,pending", ["b0", "b1", "b2"]),
        ("updated_at_min::2024-01-05", ["b0", "b1", "b2", "b3"]),
    ],
)
def test_sort_keeps_issue_order_for_ties(raw: str, expected: list[str]) -> None:
    same = [badge(f"s{i}") for i in range(5)]
    assert ids(select_badges(same, BadgeFilter(), "issued_at")) == [f"s{i}" for i in range(5)]
    shuffled = [BADGES[2], BADGES[0], BADGES[3], BADGES[1]]
    assert ids(select_badges(shuffled, parse_filter(raw), "created_at")) == expected


# -- page -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [(None, 1), ("1", 1), ("7", 7), ("007", 7)])
def test_parse_page(raw: str | None, expected: int) -> None:
    assert parse_page(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "x", "1.5", "", " 2"])
def test_bad_page_is_refused(raw: str) -> None:
    with pytest.raises(QueryError, match="positive integer"):
        parse_page(raw)


def test_page_envelope_slices_fifty_and_is_empty_past_the_end() -> None:
    items = list(range(101))

    def page(number: int) -> list[int]:
        data: list[int] = page_envelope(items, number, lambda n: n, str)["data"]
        return data

    assert page(1) == list(range(50))
    assert page(3) == [100]
    assert page(4) == []


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
    meta = page_envelope(range(total), page, str, lambda n: f"u{n}")["metadata"]
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
        "https://h/v1/organizations/o/badges", 3, "recipient_email::a+b@x.com", "issued_at"
    )
    assert url.startswith("https://h/v1/organizations/o/badges?page=3&filter=")
    assert "recipient_email%3A%3Aa%2Bb%40x.com" in url
    assert parse_qs(urlsplit(url).query) == {
        "page": ["3"],
        "filter": ["recipient_email::a+b@x.com"],
        "sort": ["issued_at"],
    }
    assert page_url("https://h/x", 2, None, "") == "https://h/x?page=2"


def test_time_bound_on_many_badges_counts_exactly() -> None:
    base = at("2024-01-01T00:00:00")
    many = [badge(f"m{i}") for i in range(20_000)]
    for i, item in enumerate(many):
        item.updated_at = base + timedelta(seconds=i)
    parsed = parse_filter("state::accepted|updated_at_min::2024-01-01T05:00:00Z")
    assert len(select_badges(many, parsed, None)) == 20_000 - 5 * 3600
