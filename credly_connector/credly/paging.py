"""Walking an organisation's badge pages lazily, and dropping badges seen on an earlier page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from credly_connector.credly.client import BadgePage
from credly_connector.credly.queries import BadgeQuery
from credly_connector.errors import RequestError


class PageSource(Protocol):
    """What `iter_pages` needs of a client (`CredlyClient` is one)."""

    @property
    def max_pages(self) -> int:
        """The highest page number worth asking for."""
        ...

    def badge_page(self, page: int, query: BadgeQuery | None = None) -> BadgePage:
        """One page of the list."""
        ...


def iter_pages(client: PageSource, query: BadgeQuery, *, start: int = 1) -> Iterator[BadgePage]:
    """Yield the list's pages from `start` on, one request per page, as they are consumed.

    Stops after the last page (`current_page >= total_pages`) or an empty one.

    Args:
        client: Fetches one page (with its own retries).
        query: The filter and sort every page is asked with.
        start: The first page, e.g. a stored checkpoint's.

    Raises:
        RequestError: When the server answers a page it answered before (it ignores `page`,
            so we would loop) or the list runs past the client's `max_pages`.
    """
    answered: set[int] = set()
    number = start
    while True:
        if number > client.max_pages:
            raise RequestError(f"the badge list runs past {client.max_pages} pages (loop guard)")
        page = client.badge_page(number, query)
        if page.current_page in answered:
            raise RequestError(
                f"Credly answered page {page.current_page} again when asked for page {number}; "
                "stopping rather than looping"
            )
        answered.add(page.current_page)
        yield page
        if page.is_last:
            return
        number += 1


def fresh_badges(badges: Iterable[dict[str, Any]], seen: set[str]) -> list[dict[str, Any]]:
    """The badges whose id is not in `seen`, adding their ids to it.

    Offset paging drifts when badges are added or removed during a crawl, so a badge can show
    up on two pages. Badges without a string id are kept for the parser to reject with a reason.
    """
    fresh = []
    for badge in badges:
        badge_id = badge.get("id")
        if isinstance(badge_id, str):
            if badge_id in seen:
                continue
            seen.add(badge_id)
        fresh.append(badge)
    return fresh


def dedupe_badges(pages: Iterable[BadgePage]) -> Iterator[dict[str, Any]]:
    """Every badge of the pages once: a repeated id after its first page is dropped."""
    seen: set[str] = set()
    for page in pages:
        yield from fresh_badges(page.badges, seen)
