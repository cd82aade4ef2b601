"""The Credly API's list responses: their query parameters, badge selection and its cache.

Every list route reads `page` (badges also `filter` and `sort`) with `read_list_query`, which
answers a refused value with 422, and answers with `list_response`. `BadgeSelector` filters
and sorts an organisation's badges, caching the result for large organisations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from devstack.credly.errors import QueryError
from devstack.credly.filters import BadgeFilter, parse_filter, parse_sort, select_badges
from devstack.credly.paging import page_envelope, page_url, parse_page
from devstack.credly.records import CredlyData, IssuedBadge
from devstack.standin import HttpError, Request, Response

DEFAULT_CACHE_MIN_BADGES = 5000
_CACHE_ENTRIES = 16

T = TypeVar("T")
_ListKey = tuple[str, BadgeFilter, str | None]
"""A cached list: organisation id, filter and sort field."""


@dataclass(frozen=True)
class ListQuery:
    """A list request's parsed query; the raw `filter` and `sort` go into the page links."""

    page: int
    filter_raw: str | None = None
    sort_raw: str | None = None
    badge_filter: BadgeFilter = field(default_factory=BadgeFilter)
    sort: str | None = None


def read_list_query(request: Request, *, filtered: bool = False) -> ListQuery:
    """Parse `page`, and with `filtered` also `filter` and `sort` (a badge list).

    Raises:
        HttpError: 422 for a value the API refuses.
    """
    try:
        page = parse_page(request.arg("page"))
        if not filtered:
            return ListQuery(page)
        filter_raw, sort_raw = request.arg("filter"), request.arg("sort")
        return ListQuery(page, filter_raw, sort_raw, parse_filter(filter_raw), parse_sort(sort_raw))
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


class BadgeSelector:
    """Selects an organisation's badges by filter and sort, cached for large organisations.

    Attributes:
        cache_min_badges: Organisations with at least this many badges get their selected
            lists cached against `data.version` (edit records in place only with
            `data.touch()` afterwards).
    """

    def __init__(self, data: CredlyData) -> None:
        """Select from `data`, with an empty cache."""
        self.data = data
        self.cache_min_badges = DEFAULT_CACHE_MIN_BADGES
        self._lists: dict[_ListKey, tuple[int, list[IssuedBadge]]] = {}
        self._lock = threading.Lock()

    def select(self, org_id: str, badge_filter: BadgeFilter, sort: str | None) -> list[IssuedBadge]:
        """The organisation's badges that match the filter, in the sort's order."""
        version = self.data.version  # read before the snapshot: a race only misses the cache
        cacheable = len(self.data.badges.get(org_id, {})) >= self.cache_min_badges
        key = (org_id, badge_filter, sort)
        if cacheable:
            with self._lock:
                cached = self._lists.pop(key, None)
                if cached is not None and cached[0] == version:
                    self._lists[key] = cached  # most recently used last
                    return cached[1]
        selected = select_badges(self.data.org_badges(org_id), badge_filter, sort)
        if cacheable:
            with self._lock:
                self._lists[key] = (version, selected)
                while len(self._lists) > _CACHE_ENTRIES:
                    del self._lists[next(iter(self._lists))]
        return selected
