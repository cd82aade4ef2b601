"""A crawl worker in a process of its own, for tests that kill it and start it again.

`python -m devstack.crashworker` builds the pipeline context from the environment exactly as
`python -m credly_connector crawl` does and drains the queues with the `LocalDispatcher`. It
requests nothing itself: the test requests the crawl, runs a worker, kills it (by its pid) at
a point of its choosing, and runs another. It ends when `--crawl`'s crawl has ended and the
queues are idle, when its standard input closes or says `stop`, or after `--timeout`.

On `sample` (a line on standard input) it prints, at its next idle moment, one JSON line
with what it handled and its memory, so a long-running test can watch for growth.

`CrashWorker` is the test's side: it starts such a process and talks to it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import queue
import re
import resource
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# What a child Python needs from the parent's environment; the settings come from the caller.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def main(argv: Sequence[str] | None = None) -> int:
    """Drain the queues until told to stop; 0 when it stopped as asked, 3 after the timeout."""
    parser = argparse.ArgumentParser(prog="python -m devstack.crashworker", description=__doc__)
    parser.add_argument("--crawl", help="end once this crawl has ended and nothing is in flight")
    parser.add_argument("--workers", type=int, default=4, help="handler threads (default 4)")
    parser.add_argument(
        "--visibility", type=int, default=120, help="seconds a received message stays hidden"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    parser.add_argument(
        "--poll", type=float, default=0.05, help="seconds between idle polls (default 0.05)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    # Imported here, as the CLI does, so `--help` needs no settings.
    from credly_connector import telemetry  # noqa: PLC0415
    from credly_connector.local.dispatcher import LocalDispatcher  # noqa: PLC0415
    from credly_connector.runtime import build_context  # noqa: PLC0415
    from credly_connector.settings import load_settings  # noqa: PLC0415

    telemetry.quiet_sdk_loggers()
    ctx = build_context(load_settings(os.environ))
    dispatcher = LocalDispatcher(
        ctx,
        workers=args.workers,
        visibility_timeout_s=args.visibility,
        poll_interval_s=args.poll,
    )
    commands = _Commands(sys.stdin)

    def idle() -> bool:
        """Called by the dispatcher only when nothing is received or in flight."""
        while commands.take_sample():
            handled = sum(dispatcher.stats.handled.values())
            sys.stdout.write(json.dumps({"handled": handled, **memory()}) + "\n")
            sys.stdout.flush()
        if commands.stopped.is_set():
            return True
        if args.crawl is None:
            return False
        record = ctx.crawls.get(args.crawl)
        return record is not None and record.final

    finished = dispatcher.run_until(idle, timeout_s=args.timeout)
    return 0 if finished else 3


def memory() -> dict[str, Any]:
    """Live objects after a full collection, the most common types, and resident memory.

    The `re` module's cache is emptied first: it keeps up to 512 compiled patterns, and the
    storage SDK parses every transaction answer with a pattern of its own multipart boundary,
    so without the purge it fills up crawl after crawl (bounded, but it looks like a leak).
    """
    re.purge()
    gc.collect()
    objects = gc.get_objects()
    types = Counter(type(o).__qualname__ for o in objects)
    current_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                current_kb = int(line.split()[1])
    return {
        "objects": len(objects),
        "types": dict(types.most_common(40)),
        "rss_kb": current_kb,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


class _Commands:
    """Reads `sample` and `stop` lines from a stream in a daemon thread (EOF means stop)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stopped = threading.Event()
        self._samples = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            command = line.strip()
            if command == "sample":
                with self._lock:
                    self._samples += 1
            elif command == "stop":
                break
        self.stopped.set()

    def take_sample(self) -> bool:
        """Whether a sample was asked for (and not answered yet)."""
        with self._lock:
            if not self._samples:
                return False
            self._samples -= 1
            return True


class CrashWorker:
    """A `python -m devstack.crashworker` process started by a test.

    Args:
        env: The connector's settings (the process sees these, and the few variables a
            Python process needs, but nothing else of the caller's environment).
        log_path: Where the worker's standard error goes (for failure messages).
        crawl_id: End once this crawl has ended.
        visibility_s: How long a received message stays hidden: short for a worker about to
            be killed, so its in-flight messages come back soon.
        poll_s: How long an idle worker waits before it looks at the queues again.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        crawl_id: str | None = None,
        workers: int = 4,
        visibility_s: int = 120,
        poll_s: float = 0.05,
        timeout_s: float = 120.0,
    ) -> None:
        """Start the worker process."""
        command = [sys.executable, "-m", "devstack.crashworker", "--workers", str(workers)]
        command += ["--visibility", str(visibility_s), "--poll", str(poll_s)]
        command += ["--timeout", str(timeout_s)]
        if crawl_id is not None:
            command += ["--crawl", crawl_id]
        inherited = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        self.log_path = log_path
        self._log = log_path.open("a", encoding="utf-8")
        # The command is our own interpreter and module, with arguments we built.
        self.process = subprocess.Popen(  # noqa: S603
            command,
            cwd=REPO_ROOT,
            env={**inherited, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            self._lines.put(line)
        self._lines.put(None)

    def kill(self) -> None:
        """SIGKILL the worker (this process only, by its pid): a crash, nothing cleaned up."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)

    def wait(self, timeout_s: float) -> int | None:
        """The exit code once the worker ended, or None if it still runs after `timeout_s`."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def sample(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """Ask for a memory sample and return it (taken at the worker's next idle moment)."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write("sample\n")
        stdin.flush()
        line = self._lines.get(timeout=timeout_s)
        if line is None:
            raise RuntimeError(f"the worker ended before answering; see {self.log_path}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def log_tail(self, lines: int = 20) -> str:
        """The end of the worker's standard error."""
        self._log.flush()
        return "\n".join(self.log_path.read_text(encoding="utf-8").splitlines()[-lines:])

    def close(self, timeout_s: float = 10.0) -> None:
        """Ask the worker to stop, kill it if it does not, and release its pipes."""
        stdin = self.process.stdin
        if stdin is not None and self.process.poll() is None:
            with contextlib.suppress(OSError):
                stdin.write("stop\n")
                stdin.close()
        if self.wait(timeout_s) is None:
            self.kill()
            self.process.wait(timeout=timeout_s)
        self._reader.join(timeout_s)  # it ends at the end of the dead worker's output
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._log.close()


if __name__ == "__main__":
    raise SystemExit(main())
