"""The `Prefer` request header: which preferences a request asks for, and its page size."""

from __future__ import annotations

INCLUDE_UNKNOWN_ENUM_MEMBERS = "include-unknown-enum-members"
"""The preference that unlocks evolvable enum members (see `rules.enums`)."""
MAX_PAGE_SIZE_PREFERENCE = "odata.maxpagesize"


def _preferences(prefer_header: str | None) -> list[tuple[str, str]]:
    """The (lower-cased name, raw value) of each comma-separated preference, in order."""
    pairs: list[tuple[str, str]] = []
    for part in prefer_header.split(",") if prefer_header else []:
        name, _, value = part.strip().partition("=")
        pairs.append((name.strip().lower(), value))
    return pairs


def prefers(prefer_header: str | None, preference: str) -> bool:
    """Whether a `Prefer` header (comma-separated preferences) asks for `preference`."""
    return any(name == preference for name, _ in _preferences(prefer_header))


def max_page_size(prefer_header: str | None) -> int | None:
    """The `odata.maxpagesize=N` preference, or None when absent or not a positive integer."""
    for name, value in _preferences(prefer_header):
        if name == MAX_PAGE_SIZE_PREFERENCE:
            try:
                size = int(value.strip().strip('"'))
            except ValueError:
                return None
            return size if size > 0 else None
    return None
