"""Reading what a budget test's worker process says, one line at a time, with a deadline."""

from __future__ import annotations

import threading
from typing import IO

LINE_TIMEOUT_S = 90.0


def read_line(stream: IO[str], timeout_s: float = LINE_TIMEOUT_S) -> str:
    """The next line of a worker's output, failing the test after `timeout_s`."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    assert lines, "a worker said nothing in time"
    return lines[0].strip()
