"""The host's invocation log: one JSON line per ended invocation, appended to a file.

Off unless asked for (`FunctionsHost(invocation_log=PATH)`, `python -m devstack host
--invocation-log PATH`). Every instance appends to the same file: each line is written with
one `write` on a descriptor opened with `O_APPEND`, so lines of several processes never
interleave. A line:

    {"function": "crawl_pages", "trigger": "crawl-pages", "instance": 1, "pid": 4242,
     "start": 1765000000.123, "start_monotonic": 81234.5, "duration_s": 0.412,
     "outcome": "succeeded", "detail": "message ..., delivery 1"}

Queue and timer invocations are logged (HTTP requests are answered outside the worker's
invocation pool and are not). `trigger` is the queue a queue trigger listens to, or `timer`;
`start` is the wall clock (Unix seconds) and `start_monotonic` the machine's monotonic clock,
which every process shares; `outcome` is `succeeded`, `failed` (the function raised) or
`timed_out` (it outlived the function timeout: written before the worker is replaced).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

SUCCEEDED, FAILED, TIMED_OUT = "succeeded", "failed", "timed_out"


@dataclass(frozen=True)
class InvocationRecord:
    """One ended invocation, as one line of the log."""

    function: str
    trigger: str
    instance: int
    pid: int
    start: float
    start_monotonic: float
    duration_s: float
    outcome: str
    detail: str = ""

    @property
    def end_monotonic(self) -> float:
        """When it ended, on the monotonic clock."""
        return self.start_monotonic + self.duration_s


class InvocationLog:
    """Appends this instance's records to a file (created when missing, never truncated)."""

    def __init__(self, path: Path, instance: int) -> None:
        self.instance = instance
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: InvocationRecord) -> None:
        """Append one record as one line."""
        line = json.dumps(asdict(record), separators=(", ", ": ")) + "\n"
        with self._lock:
            os.write(self._fd, line.encode())


def read_invocations(path: Path) -> Iterator[InvocationRecord]:
    """The records of a log file in the order written; a torn last line is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                return  # an instance killed mid-write: nothing after it is whole
            yield InvocationRecord(**json.loads(line))
