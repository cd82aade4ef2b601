"""Write pacing for external items: a process-wide in-flight bound over a shared rate budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar

from credly_connector.budget.policy import RatePolicy
from credly_connector.budget.rate import SharedRate
from credly_connector.budget.rows import ProcessRows
from credly_connector.budget.waiters import ThreadSafeSemaphore

DEFAULT_CONCURRENCY = 8
# Without any rate the budget still gates after a 429; this rate spaces nothing measurable.
UNPACED_RATE = 1_000_000.0

_URGENT: ContextVar[bool] = ContextVar("urgent_writes", default=False)


@contextmanager
def urgent_writes() -> Iterator[None]:
    """Item writes made inside go ahead of the crawl's claimed permits (webhooks, overrides).

    A context variable, so it reaches the event loop an `asyncio.run` inside starts.
    """
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


def graph_budget_key(connection_id: str) -> str:
    """The shared budget's name for the writes to one connection."""
    return f"graph:{connection_id}"


class WritePacer:
    """Decides when each item write may be sent, for every thread and event loop of a process.

    Two rules, applied in order before every send:

    - at most `concurrency` writes are in flight in the whole process (a semaphore any event
      loop can await, so concurrent batches, each in its own `asyncio.run`, share it);
      urgent writes (webhooks, overrides) do not wait for it (see `slot`);
    - the write waits for a permit of the rate `budget`: shared by every instance when the
      budget lives in Table Storage, so the gate after a 429 and the adaptive rate are the
      fleet's, not the process's (see `budget.rate`).
    """

    def __init__(
        self,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        budget: SharedRate | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Bound the process's writes in flight and pace them by a rate budget.

        Args:
            concurrency: Writes in flight at most, process-wide.
            rate: Without `budget`: the fixed rate of a budget for this process only (None: the
                gate after a 429 only).
            budget: The shared budget (built by the runtime for the connection).
            clock: Seconds; with `budget`, the budget's own clock is used.
            sleep: Awaitable sleep (inject one that advances `clock` in tests).
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.concurrency = concurrency
        self._in_flight = ThreadSafeSemaphore(concurrency)
        if budget is None:
            fixed = rate if rate is not None else UNPACED_RATE
            policy = RatePolicy(start=fixed, ceiling=fixed, floor=min(fixed, 0.5))
            budget = SharedRate("graph:process", ProcessRows(), policy, clock=clock, sleep=sleep)
        self.budget = budget
        self._paced = rate is not None or budget.policy.start < UNPACED_RATE

    @property
    def rate(self) -> float | None:
        """The budget's rate as last seen, in writes per second (None: unpaced)."""
        return self.budget.rate if self._paced else None

    @property
    def gate_until(self) -> float:
        """The clock time before which no write is sent (-inf when not gated)."""
        return self.budget.gate_until

    @property
    def throttles(self) -> int:
        """429s recorded by this process."""
        return self.budget.throttles

    @property
    def in_flight(self) -> int:
        """Writes holding a slot right now, in the whole process."""
        return self._in_flight.held

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a write slot: waits for the in-flight bound and a permit, then yields.

        An urgent write (`urgent_writes`) waits for its permit only. The crawl's writes hold
        their in-flight slots while they wait for their permits, which on a fleet sharing
        the budget can be seconds away: a webhook's write queued behind them would wait as
        long. Urgent writes are a few at a time, so the bound stays near `concurrency`.
        """
        if _URGENT.get():
            await self.budget.acquire(urgent=True)
            yield
            return
        await self._in_flight.acquire()
        try:
            await self.budget.acquire(urgent=False)
            yield
        finally:
            self._in_flight.release()

    def throttled(self, retry_after: float | None) -> None:
        """Record a 429: the gate closes (for every instance at its next claim)."""
        self.budget.throttled(retry_after)

    def succeeded(self) -> None:
        """Record an accepted write (lets the shared rate grow)."""
        self.budget.succeeded()
