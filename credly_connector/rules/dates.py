"""Reading Credly's timestamps, and the range of dates a badge can plausibly carry."""

from __future__ import annotations

import re
from datetime import UTC, datetime

EARLIEST_DATE = datetime(1980, 1, 1, tzinfo=UTC)
"""Issue and expiry dates before this cannot be right (Credly was founded in 2012)."""
LATEST_DATE = datetime(2100, 1, 1, tzinfo=UTC)
"""Issue and expiry dates from this on cannot be right (Credly uses null for no expiry)."""

_OFFSET_AFTER_SPACE = re.compile(r"^(.*\d)\s+([+-]\d{2}:?\d{2})$")


def parse_timestamp(value: object) -> datetime | None:
    """A UTC datetime from an ISO-8601 string (`Z` or offset, any fraction), else None.

    A value without an offset is taken as UTC; `2014-04-01 09:41:00 -0500` (Credly's request
    format) is accepted too.

    Args:
        value: Anything.

    Returns:
        The timezone-aware UTC datetime, or None when `value` is not such a string.
    """
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    if text[-1:] == "z":
        text = text[:-1] + "Z"
    spaced = _OFFSET_AFTER_SPACE.match(text)
    if spaced:
        text = spaced.group(1) + spaced.group(2)
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def is_plausible(moment: datetime) -> bool:
    """Whether a badge date can be right: from `EARLIEST_DATE` up to, not including, `LATEST_DATE`.

    Args:
        moment: A timezone-aware datetime.

    Returns:
        True inside the range.
    """
    return EARLIEST_DATE <= moment < LATEST_DATE
