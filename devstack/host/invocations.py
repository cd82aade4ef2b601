"""Running user functions as the Python worker does: a thread pool, an event loop, a timeout."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from devstack.host.invocation_log import FAILED, SUCCEEDED, TIMED_OUT, InvocationLog

THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"


def worker_threads(env: Mapping[str, str]) -> int:
    """The worker's sync thread pool size: the setting, else min(32, CPUs + 4) as the worker."""
    text = env.get(THREAD_COUNT_SETTING, "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    return min(32, (os.cpu_count() or 1) + 4)


@dataclass
class Running:
    """One invocation in progress."""

    function: str
    started: float
    detail: str
    trigger: str = ""
    started_at: float = 0.0
    """The wall clock at its start (Unix seconds), for the invocation log."""


class Invocations:
    """Invokes functions concurrently and notices one that outlives the function timeout.

    Sync functions run on a thread pool (several invocations of one function at once), async
    ones on one event loop thread. When an invocation runs longer than `timeout_s`,
    `on_timeout` is called once with it (the host then restarts the worker). With `log`,
    every invocation that ends (or times out) is appended to the invocation log.
    """

    def __init__(
        self,
        threads: int,
        *,
        timeout_s: float | None = None,
        on_timeout: Callable[[Running], None] | None = None,
        log: InvocationLog | None = None,
    ) -> None:
        self.threads = threads
        self.log = log
        self.timeout_s = timeout_s
        self.on_timeout = on_timeout
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="worker")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: dict[int, Running] = {}
        self._ids = itertools.count()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._draining = False
        self._watchdog = threading.Thread(target=self._watch, name="function-timeout", daemon=True)
        self._watchdog.start()

    def submit(
        self,
        function: str,
        handler: Callable[..., Any],
        arguments: dict[str, Any],
        *,
        is_async: bool = False,
        detail: str = "",
        trigger: str = "",
    ) -> Future[Any]:
        """Start one invocation; its future holds the function's result or exception.

        Args:
            trigger: What invoked it (the queue's name, `timer`), for the invocation log.

        Once `drain` began, the future comes back cancelled: the caller releases its input.
        """
        if self._stop.is_set() or self._draining:
            return _cancelled()
        if is_async:
            key = self._begin(function, detail, trigger)
            future = asyncio.run_coroutine_threadsafe(handler(**arguments), self._event_loop())
            future.add_done_callback(
                lambda done: self._end(
                    key, FAILED if done.cancelled() or done.exception() else SUCCEEDED
                )
            )
            return future

        def run() -> Any:
            key = self._begin(function, detail, trigger)
            outcome = FAILED
            try:
                answer = handler(**arguments)
                outcome = SUCCEEDED
                return answer
            finally:
                self._end(key, outcome)

        try:
            return self._pool.submit(run)
        except RuntimeError:  # the pool was shut down meanwhile
            return _cancelled()

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

    def _begin(self, function: str, detail: str, trigger: str) -> int:
        with self._lock:
            key = next(self._ids)
            self._running[key] = Running(
                function, time.monotonic(), detail, trigger=trigger, started_at=time.time()
            )
            return key

    def _end(self, key: int, outcome: str) -> None:
        ended = time.monotonic()
        with self._lock:
            run = self._running.pop(key, None)
            self._lock.notify_all()
        if run is not None:
            self._record(run, ended, outcome)

    def _record(self, run: Running, ended: float, outcome: str) -> None:
        if self.log is None:
            return
        try:
            self.log.record(
                run.function,
                run.trigger,
                start=run.started_at,
                start_monotonic=run.started,
                duration_s=ended - run.started,
                outcome=outcome,
                detail=run.detail,
            )
        except OSError as error:  # a full or vanished disk must not fail the function
            logging.getLogger("devstack.host").warning("invocation log off: %s", error)
            self.log = None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="worker-event-loop", daemon=True
                ).start()
                self._loop = loop
            return self._loop

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
                # Written before `on_timeout`, which ends the worker process.
                self._record(run, now, TIMED_OUT)
                self.on_timeout(run)


def _cancelled() -> Future[Any]:
    future: Future[Any] = Future()
    future.cancel()
    return future
