"""Credly requests as data: API paths, the badge list's query parameters, the same-host rule."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote, urljoin

from credly_connector.errors import RequestError
from credly_connector.origins import same_origin

STABLE_SORTS = ("created_at", "issued_at")
"""Sort keys that never change once a badge exists, so offset paging cannot reshuffle."""


@dataclass(frozen=True)
class BadgeQuery:
    """Which badges of an organisation to list, and in which order.

    Attributes:
        updated_since: List only badges updated at or after this instant (aware); sent as
            `updated_at_min::YYYY-MM-DD`, its UTC day, the form Credly documents (for badge
            templates; for issued badges it is unconfirmed). The day's start can only widen
            the window, and change detection keeps the results exact.
        sort: A key that never changes (`created_at` or `issued_at`), ascending; sorting by
            `updated_at` would move badges between pages while we read them.
        filters: Further `(key, value)` filter pairs, e.g. `(("state", "accepted"),)`.
    """

    updated_since: datetime | None = None
    sort: str = "created_at"
    filters: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        """Refuse an unstable sort, a naive time, or filter pairs that break the syntax."""
        if self.sort not in STABLE_SORTS:
            raise ValueError(f"sort must be one of {STABLE_SORTS}, got {self.sort!r}")
        if self.updated_since is not None and self.updated_since.utcoffset() is None:
            raise ValueError("updated_since must be timezone-aware")
        for key, value in self.filters:
            if not key or not value or "|" in key + value or "::" in key + value:
                raise ValueError(f"bad filter pair {(key, value)!r}")
            if key == "updated_at_min" and self.updated_since is not None:
                raise ValueError("updated_at_min is set by updated_since")

    def filter_value(self) -> str | None:
        """The `filter` parameter: `key::value` pairs joined with `|`; None when unfiltered."""
        pairs = []
        if self.updated_since is not None:
            pairs.append(f"updated_at_min::{format_day(self.updated_since)}")
        pairs.extend(f"{key}::{value}" for key, value in self.filters)
        return "|".join(pairs) or None

    def unfiltered(self) -> BadgeQuery:
        """The same listing without `updated_since` (every badge the other filters let through)."""
        return replace(self, updated_since=None)

    def params(self, page: int) -> dict[str, str]:
        """The query parameters of one page of this list (URL-encoded later by `requests`).

        Args:
            page: The 1-based page number.
        """
        if page < 1:
            raise ValueError(f"page must be >= 1, got {page}")
        params = {"page": str(page), "sort": self.sort}
        filter_value = self.filter_value()
        if filter_value is not None:
            params["filter"] = filter_value
        return params


def format_day(instant: datetime) -> str:
    """The UTC day of an aware instant as `YYYY-MM-DD` (which reads as that day's start)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%d")


def organization_path(organization_id: str) -> str:
    """`/organizations/{id}`, the id escaped so it stays one path segment."""
    return f"/organizations/{_segment(organization_id)}"


def badges_path(organization_id: str) -> str:
    """The organisation's issued-badge list."""
    return f"{organization_path(organization_id)}/badges"


def badge_path(organization_id: str, badge_id: str) -> str:
    """One issued badge of the organisation."""
    return f"{badges_path(organization_id)}/{_segment(badge_id)}"


def event_path(organization_id: str, event_id: str) -> str:
    """One event of the organisation (what a webhook notification names)."""
    return f"{organization_path(organization_id)}/events/{_segment(event_id)}"


def tokens_path(organization_id: str) -> str:
    """The organisation's authorization tokens."""
    return f"{organization_path(organization_id)}/authorization_tokens"


def resolve(api_url: str, path_or_url: str) -> str:
    """The absolute URL of an API path, refusing anything off the API's scheme, host and port.

    Args:
        api_url: The API base URL, e.g. `https://api.credly.com/v1`.
        path_or_url: A path below the base (`/organizations/...`) or an absolute URL.

    Raises:
        RequestError: When the URL would leave the API's origin.
    """
    base = api_url.rstrip("/") + "/"
    url = urljoin(base, path_or_url.lstrip("/")) if "://" not in path_or_url else path_or_url
    if not same_origin(url, api_url):
        raise RequestError(f"refusing to request {url}: not on the Credly API host {api_url}")
    return url


def _segment(value: str) -> str:
    if value in ("", ".", ".."):
        raise RequestError(f"{value!r} cannot address a Credly resource")
    return quote(value, safe="")
