"""The Credly API's list responses: their query parameters, badge selection and its cache.

Every list route reads `page` (badges also `filter` and `sort`) with `read_list_query`, which
answers a refused value with 422, and answers with `list_response`. `BadgeSelector` filters
and sorts an organisation's badges, caching the result for large organisations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from devstack.credly.errors import QueryError
from devstack.credly.filters import (
    BadgeFilter,
    filter_badges,
    parse_filter,
    without_filter_key,
)
from devstack.credly.paging import page_envelope, page_url, parse_page
from devstack.credly.records import CredlyData, IssuedBadge
from devstack.credly.sorting import SortKey, parse_sort, sort_badges
from devstack.standin import HttpError, Request, Response

DEFAULT_CACHE_MIN_BADGES = 5000
_CACHE_ENTRIES = 16

T = TypeVar("T")
_ListKey = tuple[str, BadgeFilter, tuple[SortKey, ...]]
"""A cached list: organisation id, filter and sort keys."""


@dataclass(frozen=True)
class ListQuery:
    """A list request's parsed query; the raw `filter` and `sort` go into the page links."""

    page: int
    filter_raw: str | None
    sort_raw: str | None
    badge_filter: BadgeFilter
    sort_keys: tuple[SortKey, ...]


def read_list_query(
    request: Request, *, filtered: bool = False, ignored_key: str | None = None
) -> ListQuery:
    """Parse `page`, and with `filtered` also `filter` and `sort` (a badge list).

    Args:
        request: The list request.
        filtered: Whether the list takes `filter` and `sort`.
        ignored_key: A filter key dropped before matching, as a service that silently ignores
            it would; the page links still carry the filter as sent.

    Raises:
        HttpError: 422 for a value the API refuses.
    """
    try:
        page = parse_page(request.arg("page"))
        if not filtered:
            return ListQuery(page, None, None, BadgeFilter(), ())
        filter_raw, sort_raw = request.arg("filter"), request.arg("sort")
        matched = filter_raw if ignored_key is None else without_filter_key(filter_raw, ignored_key)
        return ListQuery(page, filter_raw, sort_raw, parse_filter(matched), parse_sort(sort_raw))
    except QueryError as exc:
        raise HttpError(422, str(exc), "UnprocessableEntity") from exc


def list_response(
    request: Request,
    query: ListQuery,
    items: Sequence[T],
    render: Callable[[T], Any],
    page_url_base: str | None,
) -> Response:
    """The 200 answer with the requested page of the items and its `metadata`.

    Args:
        request: The list request; its path (and base URL) make the page links.
        query: The request's parsed query.
        items: Everything the list holds, in order.
        render: Turns one item into its JSON.
        page_url_base: Scheme and host for the page links; None for the request's own.
    """
    base = f"{page_url_base or request.base_url}{request.path}"

    def url_for(page: int) -> str:
        return page_url(base, page, query.filter_raw, query.sort_raw)

    return Response.json(200, page_envelope(items, query.page, render, url_for))


@dataclass(frozen=True)
class _Versioned(Generic[T]):
    """A cached value and the `CredlyData.version` it was computed at."""

    version: int
    value: T


class BadgeSelector:
    """Selects an organisation's badges by filter and sort, cached for large organisations.

    Attributes:
        cache_min_badges: Organisations with at least this many badges get their filtered and
            sorted badge lists cached against `data.version` (edit records in place only with
            `data.touch()` afterwards).
    """

    def __init__(self, data: CredlyData, cache_min_badges: int = DEFAULT_CACHE_MIN_BADGES) -> None:
        """Select from `data`, with an empty cache."""
        self.data = data
        self.cache_min_badges = cache_min_badges
        self._lists: dict[_ListKey, _Versioned[list[IssuedBadge]]] = {}
        self._lock = threading.Lock()

    def select(
        self, org_id: str, badge_filter: BadgeFilter, keys: tuple[SortKey, ...]
    ) -> list[IssuedBadge]:
        """The organisation's badges that match the filter, in the keys' order."""
        version = self.data.version  # read before the snapshot: a race only misses the cache
        cacheable = len(self.data.badges.get(org_id, {})) >= self.cache_min_badges
        key = (org_id, badge_filter, keys)
        if cacheable:
            with self._lock:
                cached = self._lists.pop(key, None)
                if cached is not None and cached.version == version:
                    self._lists[key] = cached  # most recently used last
                    return cached.value
        selected = self.data.org_badges(org_id)
        if not badge_filter.is_empty:
            selected = filter_badges(selected, badge_filter)
        if keys:
            selected = sort_badges(selected, keys)
        if cacheable:
            with self._lock:
                self._lists[key] = _Versioned(version, selected)
                while len(self._lists) > _CACHE_ENTRIES:
                    del self._lists[next(iter(self._lists))]
        return selected
