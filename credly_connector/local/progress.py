"""A one-line progress display for local crawls (stderr, redrawn in place on a terminal)."""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TextIO

from credly_connector.stores.crawls import CrawlRecord

BAR_WIDTH = 24
# The rate is measured over this recent window, so a slow start or a throttled minute
# stops weighing on the ETA once it has passed.
RATE_WINDOW_S = 30.0


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """`[#####-----]` for `done` of `total`."""
    if total <= 0:
        return "[" + "-" * width + "]"
    filled = min(width, round(width * done / total))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def rate(samples: Sequence[tuple[float, int]]) -> float | None:
    """Steps settled per second between the first and last `(time, done)` sample, if known."""
    if len(samples) < 2:
        return None
    (began, first), (now, last) = samples[0], samples[-1]
    if now <= began:
        return None
    return max(last - first, 0) / (now - began)


def clock_text(seconds: float) -> str:
    """`42s`, `3m07s` or `1h02m`: a duration as people read it on a progress line."""
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def rate_and_eta(per_s: float | None, done: int, total: int) -> str:
    """`12.5/s ETA 1m20s`; `--/s ETA --` until a rate is known or while nothing settles."""
    if per_s is None:
        return "--/s ETA --"
    eta = clock_text((total - done) / per_s) if per_s > 0 and total > done else "--"
    if total > 0 and done >= total:
        eta = "0s"
    return f"{per_s:.1f}/s ETA {eta}"


class Progress:
    """Redraws `phase [bar] done/total rate/s ETA` at most a few times a second."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A progress line on `stream` (standard error when None), redrawn every `interval_s`."""
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self.clock = clock
        self._last = -interval_s  # the first `show` draws at once, whatever the clock reads
        self._live = self.stream.isatty()
        self._phase: str | None = None
        self._samples: deque[tuple[float, int]] = deque()

    def due(self) -> bool:
        """Whether the next `show` would draw (so callers can skip reading state)."""
        return self.clock() - self._last >= self.interval_s

    def show(self, record: CrawlRecord | None, done: int, total: int) -> None:
        """Draw the crawl's phase, how many of its steps settled, their rate and the ETA."""
        now = self.clock()
        if record is None or now - self._last < self.interval_s:
            return
        self._last = now
        if record.phase != self._phase:
            # Pages and profile batches settle at different speeds: measure each phase anew.
            self._phase = record.phase
            self._samples.clear()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()
        speed = rate_and_eta(rate(self._samples), done, total)
        line = f"{record.phase:<9} {bar(done, total)} {done}/{total} {speed}"
        if self._live:
            self.stream.write("\r" + line.ljust(72))
        else:
            self.stream.write(line + "\n")
            self._last = now + 4.75  # a log file gets a line every ~5 s, not a flood
        self.stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self._live:
            self.stream.write("\n")
            self.stream.flush()
