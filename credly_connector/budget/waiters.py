"""A semaphore any number of event loops on any threads can share without blocking them."""

from __future__ import annotations

import asyncio
import threading
from collections import deque


class ThreadSafeSemaphore:
    """An in-flight bound for the whole process, awaited from any event loop.

    `asyncio.Semaphore` belongs to one loop; each batch runs its own `asyncio.run` on a worker
    thread, so the bound must live outside every loop. A waiter parks a future of its own
    loop; `release` hands the permit straight to the oldest waiter through that loop's
    `call_soon_threadsafe`, so no thread ever blocks and no loop touches another's future.
    """

    def __init__(self, value: int) -> None:
        """Start with `value` permits free.

        Args:
            value: Permits (at least 1).
        """
        if value < 1:
            raise ValueError("value must be at least 1")
        self._value = value
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()
        self.held = 0

    async def acquire(self) -> None:
        """Wait for a permit (cancellable: a permit granted meanwhile is passed on)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._value > 0 and not self._waiters:
                self._value -= 1
                self.held += 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                queued = (loop, waiter) in self._waiters
                if queued:
                    self._waiters.remove((loop, waiter))
            if not queued and waiter.done() and not waiter.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Give a permit back: to the oldest waiter, else to the pool."""
        with self._lock:
            self.held -= 1
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(self._grant, waiter)
                except RuntimeError:  # its loop closed meanwhile: the next waiter gets it
                    continue
                self.held += 1
                return
            self._value += 1

    def _grant(self, waiter: asyncio.Future[None]) -> None:
        # Runs on the waiter's loop; a waiter cancelled in between passes the permit on.
        if waiter.done():
            self.release()
        else:
            waiter.set_result(None)
