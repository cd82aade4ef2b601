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
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

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
    throttle,
)
from credly_connector.errors import RetryableError

logger = logging.getLogger(__name__)

# A permit whose time is this close is sent at once (no sleep for clock noise).
PROMPT_S = 0.002
# Unused permits older than this are dropped: sending them late would be a burst.
STALE_S = 0.05
# How often a writer checks whether another thread's claim arrived.
POLL_S = 0.01


class RateRows(Protocol):
    """Where budget rows live: Table Storage in production (`stores.budgets.BudgetStore`)."""

    def read(self, key: str) -> StoredRate | None:
        """The row, or None."""

    def create(self, key: str, state: RateState) -> StoredRate | None:
        """A new row; None when it exists already."""

    def replace(self, stored: StoredRate, state: RateState) -> StoredRate | None:
        """The row replaced if unchanged since `stored`; None on a conflict."""


@dataclass
class ProcessRows:
    """Budget rows in this process's memory: a budget for one process only (no scale-out)."""

    rows: dict[str, StoredRate] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _version: int = 0

    def read(self, key: str) -> StoredRate | None:
        """The row, or None."""
        with self._lock:
            return self.rows.get(key)

    def create(self, key: str, state: RateState) -> StoredRate | None:
        """A new row; None when it exists already."""
        with self._lock:
            if key in self.rows:
                return None
            return self._put(key, state)

    def replace(self, stored: StoredRate, state: RateState) -> StoredRate | None:
        """The row replaced if unchanged since `stored`; None on a conflict."""
        with self._lock:
            current = self.rows.get(stored.key)
            if current is None or current.etag != stored.etag:
                return None
            return self._put(stored.key, state)

    def _put(self, key: str, state: RateState) -> StoredRate:
        self._version += 1
        self.rows[key] = StoredRate(key, state, str(self._version))
        return self.rows[key]


class SharedRate:
    """One budget's permits for this process; `acquire` before each request.

    Thread-safe, and usable from any number of event loops at once. Report every answer:
    `succeeded()` (the service accepted; lets the shared rate grow) or `throttled()` (a 429:
    this process stops at once, and its next claim closes the gate and lowers the rate for
    every instance).

    Args:
        key: The budget's name, e.g. `graph:<connectionId>`.
        rows: Where the row lives.
        policy: Start, ceiling, growth and decrease.
        clock: Seconds on a clock every instance shares (wall time in production).
        sleep: Awaitable sleep.
        patience_s: How long storage may fail before `acquire` gives up with a
            `RetryableError` (the message comes back later; nothing is lost).
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
        self.key = key
        self.policy = policy
        self._rows = rows
        self._clock = clock
        self._sleep = sleep
        self.patience_s = patience_s
        self._lock = threading.Lock()
        self._slots: deque[float] = deque()
        self._stored: StoredRate | None = None
        self._accepted = 0
        self._throttles: list[tuple[float, float | None]] = []
        self._gate_until = float("-inf")
        self._not_before = float("-inf")
        self._claiming = False
        self.rate = initial(policy).rate
        self.throttles = 0
        self.claims = 0

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
                if claimer:
                    self._claiming = True
            if slot is not None:
                if await self._wait_until(slot):
                    return
                continue
            if not claimer:
                await self._sleep(POLL_S)
                continue
            try:
                grant = await asyncio.to_thread(self._claim, urgent)
            finally:
                with self._lock:
                    self._claiming = False
            if grant.count == 0:
                with self._lock:
                    self._not_before = grant.start
                continue
            if urgent:
                if await self._wait_until(grant.start):
                    return
                continue
            with self._lock:
                self._slots.extend(grant.times())

    def throttled(self, retry_after: float | None) -> None:
        """Record a 429: stop this process now; the next claim tells every instance."""
        with self._lock:
            now = self._clock()
            self.throttles += 1
            self._throttles.append((now, retry_after))
            wait = retry_after if retry_after is not None and retry_after > 0 else None
            self._gate_until = max(self._gate_until, now + (wait or self.policy.backoff_s))
            # The permits left were claimed at a rate the service just refused.
            self._slots.clear()
            self._not_before = float("-inf")

    def succeeded(self) -> None:
        """Record an accepted request (reported with the next claim)."""
        with self._lock:
            self._accepted += 1

    def _take_slot(self, now: float) -> float | None:
        while self._slots and self._slots[0] < now - STALE_S:
            self._slots.popleft()
        return self._slots.popleft() if self._slots else None

    async def _wait_until(self, when: float) -> bool:
        """Sleep until `when`; False when a gate closed meanwhile (the permit is void)."""
        delay = when - self._clock()
        if delay > PROMPT_S:
            await self._sleep(delay)
        return self._clock() >= self._gate_until

    def _claim(self, urgent: bool) -> Grant:
        """Claim permits with one conditional update (on a worker thread: storage blocks)."""
        started = self._clock()
        failures = 0
        while True:
            try:
                grant = self._try_claim(urgent)
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
                time.sleep(min(2.0**failures * 0.1, 5.0, self.patience_s - waited))
                continue
            if grant is not None:
                return grant

    def _try_claim(self, urgent: bool) -> Grant | None:
        """One attempt; None after a conflict (the row is read again next time)."""
        stored = self._stored or self._rows.read(self.key)
        if stored is None:
            self._stored = self._rows.create(self.key, initial(self.policy))
            return None
        with self._lock:
            accepted, throttles = self._accepted, list(self._throttles)
        now = self._clock()
        state = stored.state
        for when, retry_after in throttles:
            state = throttle(state, self.policy, when, retry_after)
        state = credit(state, self.policy, now, accepted)
        state, grant = claim_single(state, now) if urgent else claim(state, self.policy, now)
        if state == stored.state:  # nothing claimed, nothing to tell: no write
            self._learn(stored.state)
            return grant
        self._stored = self._rows.replace(stored, state)
        self.claims += 1
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
