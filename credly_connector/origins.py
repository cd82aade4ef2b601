"""The same-origin rule both API clients apply before a link may carry their credentials."""

from __future__ import annotations

from urllib.parse import urlsplit

Origin = tuple[str, str, int | None]
"""Scheme, lower-cased host and port of a URL."""

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> Origin | None:
    """Scheme, lower-cased host and port of a URL, the port made explicit for http and https.

    Returns:
        The origin, or None when the port cannot be read (not a number, out of range): a URL
        whose port is unreadable names no server we can vouch for.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    return scheme, (parts.hostname or "").lower(), port


def same_origin(url: str, other: str) -> bool:
    """Whether two URLs share scheme, host and port; a URL without an origin matches none."""
    mine = origin(url)
    return mine is not None and mine == origin(other)
