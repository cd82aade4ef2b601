"""Running user functions as the Python worker does: a thread pool and a timeout."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from devstack.host.functions import QueueFunction, TimerFunction
from devstack.host.invocation_log import (
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    InvocationLog,
    InvocationRecord,
)


def worker_threads(env: Mapping[str, str]) -> int:
    """The worker's thread pool size: PYTHON_THREADPOOL_THREAD_COUNT, else min(32, CPUs + 4)."""
    text = env.get("PYTHON_THREADPOOL_THREAD_COUNT", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else min(32, (os.cpu_count() or 1) + 4)


@dataclass
class Running:
    """One invocation in progress: what ran, why, and when it started (monotonic and wall)."""

    function: str
    trigger: str
    detail: str
    started: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.time)


class Invocations:
    """Invokes functions on a thread pool and notices one that outlives the function timeout.

    When an invocation runs longer than `timeout_s`, `on_timeout` is called once with it (the
    host then restarts the worker). With `log`, every invocation that ends (or times out) is
    appended to the invocation log.
    """

    def __init__(
        self,
        threads: int,
        *,
        timeout_s: float | None = None,
        on_timeout: Callable[[Running], None] | None = None,
        log: InvocationLog | None = None,
    ) -> None:
        self.log = log
        self.timeout_s = timeout_s
        self.on_timeout = on_timeout
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="worker")
        self._running: dict[int, Running] = {}
        self._ids = itertools.count()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._draining = False
        threading.Thread(target=self._watch, name="function-timeout", daemon=True).start()

    def submit(
        self, function: QueueFunction | TimerFunction, value: Any, *, detail: str, trigger: str
    ) -> Future[Any]:
        """Start one invocation with `value` as its argument; its future holds the outcome.

        `trigger` (the queue's name, or `timer`) and `detail` go to the invocation log. Once
        `drain` began, the future comes back cancelled: the caller releases its input.
        """

        def run() -> Any:
            with self._lock:
                key = next(self._ids)
                self._running[key] = Running(function.name, trigger, detail)
            outcome = FAILED
            try:
                answer = function.handler(**{function.argument: value})
                outcome = SUCCEEDED
                return answer
            finally:
                with self._lock:
                    ended = self._running.pop(key)
                    self._lock.notify_all()
                self._record(ended, outcome)

        if not self._draining:
            try:
                return self._pool.submit(run)
            except RuntimeError:  # the pool was shut down meanwhile
                pass
        cancelled: Future[Any] = Future()
        cancelled.cancel()
        return cancelled

    @property
    def running(self) -> int:
        """Invocations in progress now."""
        with self._lock:
            return len(self._running)

    def drain(self, timeout_s: float) -> bool:
        """Cancel invocations not yet started and wait for the running ones (True: all ended)."""
        self._draining = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.2))
        self._stop.set()
        return True

    def _record(self, run: Running, outcome: str) -> None:
        if self.log is None:
            return
        duration = max(0.0, time.monotonic() - run.started)
        record = InvocationRecord(
            run.function,
            run.trigger,
            self.log.instance,
            os.getpid(),
            round(run.started_at, 3),
            round(run.started, 3),
            round(duration, 4),
            outcome,
            run.detail,
        )
        try:
            self.log.write(record)
        except OSError as error:  # a full or vanished disk must not fail the function
            logging.getLogger("devstack.host").warning("invocation log off: %s", error)
            self.log = None

    def _watch(self) -> None:
        reported: set[int] = set()
        while not self._stop.wait(0.25):
            if self.timeout_s is None or self.on_timeout is None:
                continue
            now = time.monotonic()
            with self._lock:
                late = [
                    (key, run)
                    for key, run in self._running.items()
                    if now - run.started > self.timeout_s and key not in reported
                ]
            for key, run in late:
                reported.add(key)
                self._record(run, TIMED_OUT)  # before `on_timeout`, which ends the process
                self.on_timeout(run)
