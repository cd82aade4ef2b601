"""NCRONTAB, the Functions timer's six-field schedule: why a schedule would be refused."""

from __future__ import annotations

import re

_MONTHS = "JANUARY FEBRUARY MARCH APRIL MAY JUNE JULY AUGUST SEPTEMBER OCTOBER NOVEMBER DECEMBER"
_DAYS = "SUNDAY MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY"
# (name, lowest, highest, names numbered from `lowest`) for each NCRONTAB field, in order.
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, tuple(_MONTHS.split())),
    ("day-of-week", 0, 6, tuple(_DAYS.split())),
)


def schedule_problem(schedule: str) -> str | None:
    """Why `schedule` is not a six-field NCRONTAB expression, or None when it is one."""
    fields = schedule.split()
    if len(fields) != len(_FIELDS):
        return f"has {len(fields)} fields, not six"
    for text, (field_name, low, high, names) in zip(fields, _FIELDS, strict=True):
        allowed = r"[0-9A-Za-z*/,\-]+" if names else r"[0-9*/,\-]+"
        if not re.fullmatch(allowed, text):
            return f"has characters not allowed in the {field_name} field ({text!r})"
        for part in text.split(","):
            span, slash, step = part.partition("/")
            if slash and not (step.isdigit() and int(step) > 0):
                return f"has a bad step in the {field_name} field ({part!r})"
            if span == "*":
                continue
            numbers = [_number(token, low, names) for token in span.split("-")]
            if len(numbers) > 2 or any(n is None or not low <= n <= high for n in numbers):
                return f"has {part!r} in the {field_name} field, which allows {low}-{high}"
    return None


def _number(token: str, low: int, names: tuple[str, ...]) -> int | None:
    """The number `token` stands for in a field: digits, or a month/day name or abbreviation."""
    if token.isdigit():
        return int(token)
    upper = token.upper()
    return next((low + i for i, name in enumerate(names) if upper in (name, name[:3])), None)
