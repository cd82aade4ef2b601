"""A request rate shared by every instance: permits claimed in blocks from one stored row.

One row per budget key (`graph:<connectionId>`, `credly:<organisationId>`) holds the current
adaptive rate, when the next free permit starts, and the gate a 429 closed. An instance claims
about one second of permits with one ETag-conditional update, then hands them out locally,
spaced over the claimed window, to every thread and event loop of the process. It keeps the
row and ETag its last update returned, so an uncontended claim is a single storage operation;
it reads the row again only after a conflict. A claimer that dies loses nothing: its window
passes and the permits after it were never its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from azure.core.exceptions import AzureError

from credly_connector.budget.policy import (
    Grant,
    RatePolicy,
    RateState,
    StoredRate,
    claim,
    claim_single,
    credit,
    initial,
    respace,
    throttle,
)
from credly_connector.budget.rows import RateRows
from credly_connector.errors import RetryableError

logger = logging.getLogger(__name__)

# A permit whose time is this close is sent at once (no sleep for clock noise).
PROMPT_S = 0.002
# Unused permits older than this are dropped: sending them late would be a burst.
STALE_S = 0.25
# How often a writer checks whether another thread's claim arrived.
POLL_S = 0.01
# A queued grant is checked against the row this long before it starts.
CHECK_AHEAD_S = 0.1
# The fewest permits a claim asks for (below, claims would cost more than they pace).
MIN_WANT = 10

_T = TypeVar("_T")


class SharedRate:
    """One budget's permits for this process; `acquire` before each request.

    Thread-safe, and usable from any number of event loops at once. Report every answer:
    `succeeded()` (the service accepted; lets the shared rate grow) or `throttled()` (a 429:
    this process stops at once, and its next claim closes the gate and lowers the rate for
    every instance).
    """

    def __init__(
        self,
        key: str,
        rows: RateRows,
        policy: RatePolicy,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        patience_s: float = 60.0,
    ) -> None:
        """Start with no permits: the first `acquire` claims the first block.

        Args:
            key: The budget's name, e.g. `graph:<connectionId>`.
            rows: Where the row lives.
            policy: Start, ceiling, growth and decrease.
            clock: Seconds on a clock every instance shares (wall time in production).
            sleep: Awaitable sleep.
            patience_s: How long storage may fail before `acquire` gives up with a
                `RetryableError` (the message comes back later; nothing is lost).
        """
        self.key = key
        self.policy = policy
        self._rows = rows
        self._clock = clock
        self._sleep = sleep
        self.patience_s = patience_s
        self._lock = threading.Lock()
        self._slots: deque[float] = deque()
        self._queued: Grant | None = None
        self._stored: StoredRate | None = None
        self._accepted = 0
        self._throttles: list[tuple[float, float | None]] = []
        self._gate_until = float("-inf")
        self._not_before = float("-inf")
        self._claiming = False
        self._granted = 0
        self._used = 0
        self.rate = initial(policy).rate
        self.throttles = 0
        self.operations = 0

    @property
    def gate_until(self) -> float:
        """Clock time before which this process sends nothing (-inf when open)."""
        return self._gate_until

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait for a permit; `urgent` ones go ahead of claimed blocks (webhook writes).

        Raises:
            RetryableError: Storage failed for longer than `patience_s`.
        """
        while True:
            with self._lock:
                now = self._clock()
                slot = None if urgent else self._take_slot(now)
                due = urgent or now >= self._not_before
                claimer = slot is None and not self._claiming and due
                queued = None
                if claimer:
                    self._claiming = True
                    if not urgent:
                        queued, self._queued = self._queued, None
            if slot is not None:
                if await self._wait_until(slot):
                    return
                continue
            if not claimer:
                await self._wait_for_claimer(now)
                continue
            try:
                if queued is not None:
                    grant = await asyncio.to_thread(self._check, queued)
                else:
                    grant = await asyncio.to_thread(self._claim, urgent, now)
            finally:
                with self._lock:
                    self._claiming = False
            if urgent:
                if await self._wait_until(grant.start):
                    return
                continue
            self._hold(grant, now, checked=queued is not None)

    async def _wait_for_claimer(self, now: float) -> None:
        with self._lock:
            not_before, claiming = self._not_before, self._claiming
        if not claiming and now < not_before:
            await self._sleep(not_before - now)
        else:
            # Another thread claims: a real sleep whatever `sleep` is, as a fake one would
            # never yield to the loop that finishes the claim.
            await asyncio.sleep(POLL_S)

    def _hold(self, grant: Grant, claimed_at: float, *, checked: bool) -> None:
        """Keep a grant: its permits now, or the whole grant until just before it starts."""
        with self._lock:
            if not checked and grant.start > claimed_at + self.policy.lead_s:
                self._queued = grant
                self._not_before = grant.start - CHECK_AHEAD_S
                return
            self._not_before = float("-inf")
            self._slots.extend(grant.times())
            self._granted, self._used = grant.count, 0

    def throttled(self, retry_after: float | None) -> None:
        """Record a 429: stop this process now; the next claim tells every instance."""
        with self._lock:
            now = self._clock()
            self.throttles += 1
            self._throttles.append((now, retry_after))
            wait = retry_after if retry_after is not None and retry_after > 0 else None
            self._gate_until = max(self._gate_until, now + (wait or self.policy.backoff_s))
            # The permits held were claimed at a rate the service just refused; the next
            # claim (at once) tells every instance.
            self._slots.clear()
            self._queued = None
            self._not_before = float("-inf")

    def succeeded(self) -> None:
        """Record an accepted request (reported with the next claim)."""
        with self._lock:
            self._accepted += 1

    def _take_slot(self, now: float) -> float | None:
        while self._slots and self._slots[0] < now - STALE_S:
            self._slots.popleft()
        if not self._slots:
            return None
        self._used += 1
        return self._slots.popleft()

    def _want(self) -> int | None:
        """Permits to claim: a full block, or what the last block showed this process uses."""
        if self._granted == 0 or self._used >= self._granted:
            return None
        return max(MIN_WANT, math.ceil(self._used * 1.5))

    async def _wait_until(self, when: float) -> bool:
        """Sleep until `when`; False when a gate closed meanwhile (the permit is void)."""
        delay = when - self._clock()
        if delay > PROMPT_S:
            await self._sleep(delay)
        return self._clock() >= self._gate_until

    def _check(self, grant: Grant) -> Grant:
        """Fit a queued grant to the row as it is now (one read; on a worker thread)."""
        stored = self._patiently(lambda: self._rows.read(self.key))
        self.operations += 1
        if stored is None:
            return grant
        self._stored = stored
        self._learn(stored.state)
        return respace(grant, stored.state)

    def _claim(self, urgent: bool, now: float) -> Grant:
        """Claim permits with one conditional update (on a worker thread: storage blocks)."""
        with self._lock:
            want = None if urgent else self._want()
        while True:
            grant = self._patiently(lambda: self._try_claim(urgent, want))
            if grant is not None:
                return grant

    def _patiently(self, attempt: Callable[[], _T]) -> _T:
        """`attempt()`, retried while storage fails, for at most `patience_s`."""
        started = self._clock()
        failures = 0
        while True:
            try:
                return attempt()
            except AzureError as error:
                failures += 1
                self._stored = None
                waited = self._clock() - started
                if waited >= self.patience_s:
                    raise RetryableError(
                        f"the shared budget {self.key} is unreachable: {error}"
                    ) from error
                if failures == 1:
                    logger.warning("budget %s: storage failed (%s); retrying", self.key, error)
                time.sleep(max(0.0, min(0.1 * 2.0**failures, 5.0, self.patience_s - waited)))

    def _try_claim(self, urgent: bool, want: int | None) -> Grant | None:
        """One attempt; None after a conflict (the row is read again next time)."""
        stored = self._stored
        if stored is None:
            stored = self._rows.read(self.key)
            self.operations += 1
        if stored is None:
            self._stored = self._rows.create(self.key, initial(self.policy))
            self.operations += 1
            return None
        with self._lock:
            accepted, throttles = self._accepted, list(self._throttles)
        now = self._clock()
        state = stored.state
        for when, retry_after in throttles:
            state = throttle(state, self.policy, when, retry_after)
        state = credit(state, self.policy, now, accepted)
        if urgent:
            state, grant = claim_single(state, now)
        else:
            state, grant = claim(state, self.policy, now, want)
        self._stored = self._rows.replace(stored, state)
        self.operations += 1
        if self._stored is None:
            return None
        with self._lock:
            self._accepted -= accepted
            del self._throttles[: len(throttles)]
        self._learn(state)
        return grant

    def _learn(self, state: RateState) -> None:
        with self._lock:
            self.rate = state.rate
            self._gate_until = max(self._gate_until, state.gate_until)
