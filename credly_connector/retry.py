"""Retry as a policy object: how often, how long, and which failures to try again.

Clients run their calls through `RetryPolicy.call` (blocking) or `RetryPolicy.call_async`
(awaiting); both give up at the same point. The sleep and clock are injected so tests run
instantly and the benchmark can count waits.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from credly_connector.errors import RetryableError

T = TypeVar("T")
OnRetry = Callable[[RetryableError, float], None]
"""Told before every retry wait: the error and the seconds about to be waited."""


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying a retryable call again.

    Attributes:
        attempts: Calls in total, the first included.
        budget_s: Give up when the next wait would end later than this after the first call.
        backoff_s: The first computed wait; doubled on every further attempt.
        backoff_cap_s: The largest computed wait.
        jitter: Fraction of a computed wait that is randomised (0.5: between 50% and 100%).
        honour_retry_after: Wait what the server asked (capped by `retry_after_cap_s`).
        retry_after_cap_s: The longest server-requested wait we accept before giving up.
    """

    attempts: int = 6
    budget_s: float = 120.0
    backoff_s: float = 0.5
    backoff_cap_s: float = 30.0
    jitter: float = 0.5
    honour_retry_after: bool = True
    retry_after_cap_s: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """The computed wait after failed attempt number `attempt` (1-based), with jitter."""
        base: float = min(self.backoff_cap_s, self.backoff_s * 2.0 ** (attempt - 1))
        return base * (1 - self.jitter * self.rng.random())

    def delay(self, attempt: int, error: RetryableError) -> float | None:
        """How long to wait before the next attempt, or None to give up."""
        if attempt >= self.attempts:
            return None
        if self.honour_retry_after and error.retry_after is not None:
            if error.retry_after > self.retry_after_cap_s:
                return None
            return max(0.0, error.retry_after)
        return self.backoff(attempt)

    def wait_before(self, attempt: int, started: float, error: RetryableError) -> float | None:
        """The wait before the attempt after `attempt`, or None once attempts or budget are spent.

        Args:
            attempt: The attempt that just failed (1-based).
            started: `clock()` when the first attempt began.
            error: How it failed.
        """
        wait = self.delay(attempt, error)
        if wait is None or self.clock() - started + wait > self.budget_s:
            return None
        return wait

    def call(self, operation: Callable[[], T], *, on_retry: OnRetry | None = None) -> T:
        """Run `operation`, retrying `RetryableError` as this policy allows; waits block.

        Raises:
            RetryableError: The last error, once attempts or the time budget are spent.
        """
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return operation()
            except RetryableError as error:
                wait = self.wait_before(attempt, started, error)
                if wait is None:
                    raise
                if on_retry is not None:
                    on_retry(error, wait)
                self.sleep(wait)

    async def call_async(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_retry: OnRetry | None = None,
    ) -> T:
        """Await `operation()`, retrying `RetryableError` as `call` does; waits are awaited.

        Args:
            operation: Starts one attempt (called again for every attempt).
            sleep: Awaitable sleep for the waits (the policy's own `sleep` blocks).
            on_retry: Told before every wait.

        Raises:
            RetryableError: The last error, once attempts or the time budget are spent.
        """
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await operation()
            except RetryableError as error:
                wait = self.wait_before(attempt, started, error)
                if wait is None:
                    raise
                if on_retry is not None:
                    on_retry(error, wait)
                await sleep(wait)


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP-date.

    Args:
        value: The header value, or None when absent.
        now: Returns the current aware UTC time, for HTTP-dates; the real clock by default.

    Returns:
        The wait (never negative), or None when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
