"""NCRONTAB schedules, `%SETTING%` resolution and missed occurrences (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.host.functions import TimerFunction
from devstack.host.ncrontab import ScheduleError, parse_schedule
from devstack.host.timers import latest_missed, timer_schedule

T0 = datetime(2026, 12, 5, 21, 30, 17, 250_000, tzinfo=UTC)  # a Saturday


def _nexts(schedule: str, start: datetime, count: int) -> list[datetime]:
    parsed, found, moment = parse_schedule(schedule), [], start
    for _ in range(count):
        moment = parsed.next_after(moment)
        found.append(moment)
    return found


def test_every_twenty_seconds_fires_on_the_twenty_second_marks() -> None:
    assert _nexts("*/20 * * * * *", T0, 3) == [
        T0.replace(second=20, microsecond=0),
        T0.replace(second=40, microsecond=0),
        T0.replace(minute=31, second=0, microsecond=0),
    ]


def test_the_apps_defaults_fire_daily_at_two_and_weekly_on_sunday_at_three() -> None:
    assert _nexts("0 0 2 * * *", T0, 2) == [
        datetime(2026, 12, 6, 2, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 2, 0, tzinfo=UTC),
    ]
    assert _nexts("0 0 3 * * 0", T0, 2) == [
        datetime(2026, 12, 6, 3, 0, tzinfo=UTC),
        datetime(2026, 12, 13, 3, 0, tzinfo=UTC),
    ]


def test_lists_ranges_steps_and_names() -> None:
    assert _nexts("5/20 30 9-10 * * MON-FRI", T0, 4) == [
        datetime(2026, 12, 7, 9, 30, 5, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 30, 25, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 30, 45, tzinfo=UTC),
        datetime(2026, 12, 7, 10, 30, 5, tzinfo=UTC),
    ]
    assert _nexts("0 0 0 29 Feb *", T0, 1) == [datetime(2028, 2, 29, tzinfo=UTC)]


def test_day_and_weekday_must_both_match_as_in_ncrontab() -> None:
    # The 13th that is a Friday.
    assert _nexts("0 0 0 13 * 5", T0, 1) == [datetime(2027, 8, 13, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ("*/5 * * * *", "5 fields"),
        ("0 60 * * * *", "minute"),
        ("0 0 0 30 2 *", "never occurs"),
        ("*/0 * * * * *", "bad step"),
        ("0 0 5-3 * * *", "empty range"),
        ("0 0 0 * FOO *", "month"),
    ],
)
def test_bad_schedules_say_what_is_wrong(schedule: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        parse_schedule(schedule).next_after(T0)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["*/7 * * * * *", "0 */5 * * * *", "10,40 5-9 * * * *", "0 0 */6 * * *"]),
    st.integers(min_value=0, max_value=10**8),
)
def test_the_next_occurrence_is_the_first_matching_second_after_the_start(
    schedule: str, offset: int
) -> None:
    parsed = parse_schedule(schedule)
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=offset, microseconds=offset % 7)

    found = parsed.next_after(start)

    def matches(moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7
        return (
            moment.second in parsed.seconds
            and moment.minute in parsed.minutes
            and moment.hour in parsed.hours
            and moment.day in parsed.days
            and moment.month in parsed.months
            and weekday in parsed.weekdays
        )

    assert found > start
    assert matches(found)
    moment = start.replace(microsecond=0) + timedelta(seconds=1)
    while moment < found:  # at most a day of seconds
        assert not matches(moment), moment
        moment += timedelta(seconds=1)


def test_a_schedule_setting_is_resolved_from_the_app_settings() -> None:
    timer = TimerFunction("t", "%MY_SCHEDULE%", True, False, "timer", lambda timer: None)

    assert timer_schedule(timer, {"MY_SCHEDULE": "*/20 * * * * *"}).text == "*/20 * * * * *"
    with pytest.raises(ScheduleError, match="app setting MY_SCHEDULE"):
        timer_schedule(timer, {})


def test_a_downtime_is_made_up_for_by_its_latest_missed_occurrence() -> None:
    every_ten_minutes = parse_schedule("0 */10 * * * *")
    last = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)

    assert latest_missed(every_ten_minutes, last, T0) == datetime(2026, 12, 5, 21, 30, tzinfo=UTC)
    assert latest_missed(every_ten_minutes, last, last + timedelta(minutes=9)) is None
    every_second = parse_schedule("* * * * * *")
    days_ago = T0 - timedelta(days=3)
    assert latest_missed(every_second, days_ago, T0) == T0.replace(microsecond=0)
