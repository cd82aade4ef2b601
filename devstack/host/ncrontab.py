"""Six-field NCRONTAB schedules (`second minute hour day month day-of-week`) and their times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names numbered from `lowest`) per field, in order.
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
# Far enough for any valid schedule (29 February of a leap year on a given weekday).
_SEARCH_DAYS = 366 * 30


class ScheduleError(ValueError):
    """A schedule is not a six-field NCRONTAB expression; the message says where."""


@dataclass(frozen=True)
class Schedule:
    """A parsed NCRONTAB schedule; day and day-of-week must both match, as in NCrontab.

    Attributes:
        text: The expression as written.
        seconds, minutes, hours, days, months, weekdays: The allowed values of each field
            (weekdays: 0 = Sunday).
    """

    text: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (same time zone as `moment`).

        Raises:
            ScheduleError: When no day in the next 30 years matches (e.g. 30 February).
        """
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.replace(hour=0, minute=0, second=0)
        earliest = (start.hour, start.minute, start.second)
        for _ in range(_SEARCH_DAYS):
            # Python's weekday(): Monday 0; NCRONTAB's: Sunday 0.
            weekday = (day.weekday() + 1) % 7
            if day.day in self.days and day.month in self.months and weekday in self.weekdays:
                found = self._time_at_or_after(earliest)
                if found is not None:
                    return day.replace(hour=found[0], minute=found[1], second=found[2])
            day += timedelta(days=1)
            earliest = (0, 0, 0)
        raise ScheduleError(f"schedule {self.text!r} never occurs")

    def _time_at_or_after(self, earliest: tuple[int, int, int]) -> tuple[int, int, int] | None:
        for hour in self.hours:
            if hour < earliest[0]:
                continue
            for minute in self.minutes:
                if (hour, minute) < earliest[:2]:
                    continue
                for second in self.seconds:
                    if (hour, minute, second) >= earliest:
                        return hour, minute, second
        return None


def parse_schedule(text: str) -> Schedule:
    """Parse a six-field NCRONTAB expression.

    Raises:
        ScheduleError: For a wrong field count, value, range or step.
    """
    fields = text.split()
    if len(fields) != len(_FIELDS):
        raise ScheduleError(
            f"schedule {text!r} has {len(fields)} fields, not six "
            "(second minute hour day month day-of-week)"
        )
    values = [_field(part, spec, text) for part, spec in zip(fields, _FIELDS, strict=True)]
    return Schedule(
        text=text,
        seconds=tuple(sorted(values[0])),
        minutes=tuple(sorted(values[1])),
        hours=tuple(sorted(values[2])),
        days=frozenset(values[3]),
        months=frozenset(values[4]),
        weekdays=frozenset(values[5]),
    )


def _field(text: str, spec: tuple[str, int, int, tuple[str, ...]], schedule: str) -> set[int]:
    name, low, high, names = spec
    allowed: set[int] = set()
    for part in text.split(","):
        span, slash, step_text = part.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) > 0):
            raise ScheduleError(f"schedule {schedule!r}: bad step {part!r} in the {name} field")
        step = int(step_text) if slash else 1
        if span == "*":
            first, last = low, high
        else:
            bounds = [_number(token, low, names) for token in span.split("-")]
            numbers = [b for b in bounds if b is not None and low <= b <= high]
            if len(bounds) > 2 or len(numbers) != len(bounds):
                raise ScheduleError(
                    f"schedule {schedule!r}: {part!r} in the {name} field (allowed {low}-{high})"
                )
            first = numbers[0]
            # `5/10` means from 5 to the end in steps of 10, as in NCrontab.
            last = numbers[-1] if len(numbers) == 2 or not slash else high
            if last < first:
                raise ScheduleError(f"schedule {schedule!r}: empty range {part!r} in {name}")
        allowed.update(range(first, last + 1, step))
    return allowed


def _number(token: str, low: int, names: tuple[str, ...]) -> int | None:
    if token.isdigit():
        return int(token)
    upper = token.upper()[:3]
    return low + names.index(upper) if upper in names else None
