"""The crawl's progress line: bar, count, rate over a recent window and the ETA."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

from credly_connector.local.progress import Progress, clock_text, rate, rate_and_eta
from credly_connector.stores.crawls import CrawlRecord

RECORD = CrawlRecord("c1", "org", "full", "cli", datetime(2026, 1, 1, tzinfo=UTC), phase="pages")


class Clock:
    """A clock the test moves by hand (the display only reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_is_steps_per_second_between_the_first_and_last_sample() -> None:
    assert rate([]) is None
    assert rate([(0.0, 5)]) is None
    assert rate([(0.0, 5), (4.0, 25)]) == 5.0
    assert rate([(3.0, 5), (3.0, 9)]) is None


def test_the_eta_is_what_is_left_at_that_rate() -> None:
    assert rate_and_eta(None, 0, 10) == "--/s ETA --"
    assert rate_and_eta(2.5, 50, 200) == "2.5/s ETA 1m00s"
    assert rate_and_eta(0.0, 3, 10) == "0.0/s ETA --"
    assert rate_and_eta(4.0, 10, 10) == "4.0/s ETA 0s"
    assert [clock_text(s) for s in (0.4, 59.6, 187, 3725)] == ["0s", "1m00s", "3m07s", "1h02m"]


def test_a_log_line_shows_the_rate_and_eta_once_two_samples_exist() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, clock=clock)

    progress.show(RECORD, 0, 100)
    clock.now += 5.0
    progress.show(RECORD, 20, 100)

    first, second = out.getvalue().splitlines()
    assert first == "pages     [------------------------] 0/100 --/s ETA --"
    assert second == "pages     [#####-------------------] 20/100 4.0/s ETA 20s"


def test_a_new_phase_measures_its_own_rate_and_old_samples_leave_the_window() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, clock=clock)
    for done in (0, 50, 100):  # pages settle fast
        progress.show(RECORD, done, 100)
        clock.now += 5.0
    profiles = replace(RECORD, phase="profiles")

    progress.show(profiles, 0, 100)
    clock.now += 5.0
    progress.show(profiles, 1, 100)
    assert out.getvalue().splitlines()[-1].endswith(" 1/100 0.2/s ETA 8m15s")

    # Profiles speed up to 3 a step: once the window has passed, the slow start no longer counts.
    for done in range(4, 26, 3):
        clock.now += 5.0
        progress.show(profiles, done, 100)
    assert out.getvalue().splitlines()[-1] == (
        "profiles  [######------------------] 25/100 0.6/s ETA 2m05s"
    )
