"""Resident memory and CPU time of the benchmark's processes, read from Linux's /proc."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process (this one by default) in MiB; 0 once it is gone."""
    try:
        statm = Path(f"/proc/{pid or 'self'}/statm").read_text(encoding="ascii")
    except OSError:
        return 0.0
    return int(statm.split()[1]) * _PAGE_BYTES / MB


def cpu_s(pid: int | None = None) -> float:
    """User plus system CPU seconds of a process, all its threads (0 once it is gone)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after the name.
    return (int(fields[11]) + int(fields[12])) / _TICKS


class PeakSampler:
    """Samples the resident memory of some processes on a thread and keeps the peaks.

    Args:
        pids: The processes to watch by name (None: this process).
        interval_s: Time between samples.
    """

    def __init__(self, pids: dict[str, int | None], interval_s: float = 0.1) -> None:
        self.pids = dict(pids)
        self.interval_s = interval_s
        self._peaks = dict.fromkeys(self.pids, 0.0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakSampler:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval_s):
                return

    def sample(self) -> None:
        """Take one sample of every process now."""
        for name, pid in self.pids.items():
            value = rss_mb(pid)
            with self._lock:
                self._peaks[name] = max(self._peaks[name], value)

    def take_peaks(self) -> dict[str, float]:
        """The peaks since the last call (then start again from the current values)."""
        self.sample()
        with self._lock:
            peaks, self._peaks = dict(self._peaks), dict.fromkeys(self.pids, 0.0)
        return peaks


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (none once it is gone)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(part) for part in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class ProcessPeaks:
    """Peak resident memory of every process of a changing set, each under its own name.

    Unlike `PeakSampler` the set is asked for at each sample (host instances are replaced
    when they fail), and each root's descendants are sampled too (`name/pid`), so no process
    of the run is missed.

    Args:
        roots: Called at each sample: the processes to watch, by name.
        interval_s: Time between samples.
    """

    def __init__(self, roots: Callable[[], dict[str, int]], interval_s: float = 0.25) -> None:
        self.roots = roots
        self.interval_s = interval_s
        self._peaks: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ProcessPeaks:
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval_s):
                return

    def sample(self) -> None:
        """Take one sample of every watched process and its descendants now."""
        seen: dict[str, float] = {}
        roots = self.roots()
        watched = set(roots.values())
        for name, pid in roots.items():
            pending = [(name, pid)]
            while pending:
                label, current = pending.pop()
                value = rss_mb(current)
                if value > 0:
                    seen[label] = value
                # A root's child that is a root itself (this process's children) is its own.
                pending += [
                    (f"{name}/{child}", child)
                    for child in children(current)
                    if child not in watched
                ]
        with self._lock:
            for label, value in seen.items():
                self._peaks[label] = max(self._peaks.get(label, 0.0), value)

    def take_peaks(self) -> dict[str, float]:
        """Each process's peak since the last call (MiB), then start again from now."""
        self.sample()
        with self._lock:
            peaks, self._peaks = self._peaks, {}
        return {name: round(value, 1) for name, value in sorted(peaks.items())}
