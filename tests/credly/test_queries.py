"""Requests as data: badge list parameters, API paths and the same-host rule, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from credly_connector.credly.queries import (
    BadgeQuery,
    badge_path,
    badges_path,
    resolve,
    tokens_path,
)
from credly_connector.errors import RequestError

API = "https://api.credly.com/v1"


def test_unfiltered_query_asks_for_the_page_sorted_by_created_at() -> None:
    assert BadgeQuery().params(3) == {"page": "3", "sort": "created_at"}


def test_updated_since_becomes_a_date_only_updated_at_min_filter_of_its_utc_day() -> None:
    # 01:30 at UTC+1:30 is midnight UTC: the UTC day, not the local one, is sent.
    since = datetime(2026, 11, 1, 1, 30, tzinfo=timezone(timedelta(hours=1, minutes=30)))

    params = BadgeQuery(updated_since=since).params(1)

    assert params == {
        "page": "1",
        "sort": "created_at",
        "filter": "updated_at_min::2026-11-01",
    }


def test_the_time_of_day_is_dropped_which_only_widens_the_window_to_the_day() -> None:
    since = datetime(2026, 11, 1, 23, 59, 59, 999_999, tzinfo=UTC)

    assert BadgeQuery(updated_since=since).params(1)["filter"] == "updated_at_min::2026-11-01"


def test_unfiltered_keeps_the_other_filters_and_the_sort() -> None:
    query = BadgeQuery(
        updated_since=datetime(2026, 1, 2, tzinfo=UTC),
        sort="issued_at",
        filters=(("state", "accepted"),),
    )

    assert query.unfiltered().params(1) == {
        "page": "1",
        "sort": "issued_at",
        "filter": "state::accepted",
    }


def test_extra_filters_follow_the_time_filter_joined_with_a_bar() -> None:
    query = BadgeQuery(
        updated_since=datetime(2026, 1, 2, tzinfo=UTC),
        sort="issued_at",
        filters=(("state", "accepted,pending"), ("public", "true")),
    )

    assert query.params(7) == {
        "page": "7",
        "sort": "issued_at",
        "filter": "updated_at_min::2026-01-02|state::accepted,pending|public::true",
    }


@pytest.mark.parametrize("sort", ["updated_at", "-created_at", "name", ""])
def test_only_never_changing_ascending_sort_keys_are_accepted(sort: str) -> None:
    with pytest.raises(ValueError, match="sort"):
        BadgeQuery(sort=sort)


def test_naive_updated_since_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        BadgeQuery(updated_since=datetime(2026, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize("pair", [("state", "a|b"), ("st::ate", "x"), ("", "x"), ("state", "")])
def test_filter_pairs_that_would_break_the_syntax_are_refused(pair: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="filter"):
        BadgeQuery(filters=(pair,))


def test_page_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="page"):
        BadgeQuery().params(0)


def test_ids_stay_one_escaped_path_segment() -> None:
    assert badges_path("org-1") == "/organizations/org-1/badges"
    assert badge_path("org-1", "a/../b c") == "/organizations/org-1/badges/a%2F..%2Fb%20c"
    assert tokens_path("o") == "/organizations/o/authorization_tokens"
    with pytest.raises(RequestError):
        badge_path("org-1", "..")


def test_paths_resolve_below_the_api_base() -> None:
    assert resolve(API, "/organizations/o/badges") == f"{API}/organizations/o/badges"
    assert resolve(API + "/", "organizations/o") == f"{API}/organizations/o"
    assert resolve(API, "HTTPS://API.credly.com:443/v1/x") == "HTTPS://API.credly.com:443/v1/x"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/v1/organizations/o/badges?page=2",
        "http://api.credly.com/v1/organizations/o/badges?page=2",
        "https://api.credly.com:8443/v1/organizations/o/badges",
        "https://api.credly.com:99999/v1/organizations/o/badges",
        "https://api.credly.com:443x/v1/organizations/o/badges",
        "javascript:alert(1)",
    ],
)
def test_urls_off_the_api_origin_are_refused(target: str) -> None:
    with pytest.raises(RequestError, match="not on the Credly API host"):
        resolve(API, target)


def test_a_scheme_relative_path_stays_a_path_below_the_api() -> None:
    assert resolve(API, "//evil.example/v1/x") == f"{API}/evil.example/v1/x"
