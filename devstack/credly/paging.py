"""Paging of list responses: the `page` parameter, page slices, links and the envelope.

Pure: Credly serves 50 items a page and describes the position in a `metadata` block whose
`next_page_url` and `previous_page_url` carry the request's filter and sort.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from devstack.credly.errors import QueryError

PER_PAGE = 50
"""Credly's fixed page size ("At most 50 results are returned at a time")."""

T = TypeVar("T")


def parse_page(raw: str | None) -> int:
    """Parse the `page` parameter (1-based; default 1).

    Raises:
        QueryError: When it is not a positive integer.
    """
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise QueryError(f"page must be a positive integer, got {raw!r}")
    return int(raw)


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


def page_envelope(
    items: Sequence[T], page: int, render: Callable[[T], Any], url_for: Callable[[int], str]
) -> dict[str, Any]:
    """A list response body: one page of the items rendered, and its `metadata`.

    A page past the end has an empty `data`. `total_pages` is 0 for an empty list;
    `previous_page_url` is null on page 1 and `next_page_url` on the last page and beyond (a
    page past the end still links back).

    Args:
        items: Everything the list holds, in order.
        page: The requested page (1-based).
        render: Turns one item into its JSON; only the page's items are rendered.
        url_for: Builds the absolute URL of a page number.
    """
    data = [render(item) for item in items[(page - 1) * PER_PAGE : page * PER_PAGE]]
    total_pages = math.ceil(len(items) / PER_PAGE)
    metadata = {
        "count": len(data),
        "current_page": page,
        "total_count": len(items),
        "total_pages": total_pages,
        "per": PER_PAGE,
        "previous_page_url": url_for(page - 1) if page > 1 else None,
        "next_page_url": url_for(page + 1) if page < total_pages else None,
    }
    return {"data": data, "metadata": metadata}
