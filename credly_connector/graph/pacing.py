"""Write pacing for external items: bounded concurrency, a shared 429 gate, an adaptive rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

DEFAULT_CONCURRENCY = 8


class WritePacer:
    """Decides when each item write may be sent.

    Three rules, applied in order before every send:

    - at most `concurrency` writes are in flight (an `asyncio.Semaphore`);
    - after any write was throttled with `Retry-After`, no writer sends before that moment
      (the gate), because Graph throttles the app, not one request;
    - with a target `rate`, sends are spaced `1/rate` apart. The rate adapts: a 429
      multiplies it by `decrease` (at most once per `decrease_cooldown_s`, since one burst
      brings several 429s at once), and every `increase_after` successes in a row add
      `increase_step`, so a long crawl settles just below the service's limit.

    One pacer may serve several event loops in turn (one `asyncio.run` per batch): the
    semaphore is rebuilt for each loop while the gate and the learnt rate carry over.

    Args:
        concurrency: Writes in flight at most.
        rate: The starting target in writes per second; None sends as fast as allowed.
        min_rate: The rate never drops below this.
        max_rate: The rate never grows above this (default: the starting rate).
        decrease: Factor applied to the rate on a 429.
        decrease_cooldown_s: Further 429s within this time do not lower the rate again.
        increase_after: Successes without a 429 before the rate grows.
        increase_step: Writes per second added then.
        clock: Monotonic seconds.
        sleep: Awaitable sleep (inject one that advances `clock` in tests).
    """

    def __init__(
        self,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        min_rate: float = 0.5,
        max_rate: float | None = None,
        decrease: float = 0.7,
        decrease_cooldown_s: float = 1.0,
        increase_after: int = 50,
        increase_step: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.concurrency = concurrency
        self.min_rate = min_rate
        self.max_rate = max_rate if max_rate is not None else rate
        self.decrease = decrease
        self.decrease_cooldown_s = decrease_cooldown_s
        self.increase_after = increase_after
        self.increase_step = increase_step
        self._clock = clock
        self._sleep = sleep
        self._rate = rate
        self._gate_until = float("-inf")
        self._next_send = float("-inf")
        self._last_decrease = float("-inf")
        self._successes = 0
        self._in_flight = 0
        self.throttles = 0
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def rate(self) -> float | None:
        """The current target in writes per second (None: unpaced)."""
        return self._rate

    @property
    def gate_until(self) -> float:
        """The clock time before which no write is sent (-inf when not gated)."""
        return self._gate_until

    @property
    def in_flight(self) -> int:
        """Writes holding a slot right now."""
        return self._in_flight

    def _loop_semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore, self._loop = asyncio.Semaphore(self.concurrency), loop
        return self._semaphore

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a write slot: waits for concurrency, the gate and the rate, then yields."""
        async with self._loop_semaphore():
            self._in_flight += 1
            try:
                await self._wait_turn()
                yield
            finally:
                self._in_flight -= 1

    async def _wait_turn(self) -> None:
        while True:
            now = self._clock()
            if now < self._gate_until:
                await self._sleep(self._gate_until - now)
                continue
            if self._rate is None:
                return
            # Reserve the next send time before sleeping, so concurrent writers queue up.
            start = max(now, self._next_send)
            self._next_send = start + 1.0 / self._rate
            if start > now:
                await self._sleep(start - now)
            if self._clock() >= self._gate_until:
                return

    def throttled(self, retry_after: float | None) -> None:
        """Record a 429: close the gate for `retry_after` seconds and lower the rate."""
        now = self._clock()
        self.throttles += 1
        self._successes = 0
        if retry_after is not None and retry_after > 0:
            self._gate_until = max(self._gate_until, now + retry_after)
        if self._rate is not None and now - self._last_decrease >= self.decrease_cooldown_s:
            self._rate = max(self.min_rate, self._rate * self.decrease)
            self._last_decrease = now

    def succeeded(self) -> None:
        """Record a successful write; enough of them in a row raise the rate."""
        self._successes += 1
        if self._rate is None or self._successes < self.increase_after:
            return
        self._successes = 0
        grown = self._rate + self.increase_step
        self._rate = grown if self.max_rate is None else min(self.max_rate, grown)
