"""A one-line progress display for local crawls (stderr, redrawn in place on a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from credly_connector.stores.crawls import CrawlRecord

BAR_WIDTH = 24


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """`[#####-----]` for `done` of `total`."""
    if total <= 0:
        return "[" + "-" * width + "]"
    filled = min(width, round(width * done / total))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class Progress:
    """Redraws `phase [bar] done/total` at most a few times a second."""

    def __init__(self, stream: TextIO | None = None, *, interval_s: float = 0.25) -> None:
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self._last = 0.0
        self._live = self.stream.isatty()

    def due(self) -> bool:
        """Whether the next `show` would draw (so callers can skip reading state)."""
        return time.monotonic() - self._last >= self.interval_s

    def show(self, record: CrawlRecord | None, done: int, total: int) -> None:
        """Draw the crawl's phase and how many of its steps settled."""
        now = time.monotonic()
        if record is None or now - self._last < self.interval_s:
            return
        self._last = now
        line = f"{record.phase:<9} {bar(done, total)} {done}/{total}"
        if self._live:
            self.stream.write("\r" + line.ljust(60))
        else:
            self.stream.write(line + "\n")
            self._last = now + 4.75  # a log file gets a line every ~5 s, not a flood
        self.stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self._live:
            self.stream.write("\n")
            self.stream.flush()
