"""The Credly budget of one organisation: concurrency slots, an optional rate and the 429 gate."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from credly_connector.budget.policy import RatePolicy
from credly_connector.budget.rate import SharedRate
from credly_connector.budget.slot_store import SlotStore
from credly_connector.budget.slots import SharedSlots, SlotPolicy
from credly_connector.stores.budgets import BudgetStore
from credly_connector.stores.tables import Tables

DEFAULT_MAX_CONCURRENCY = 4


class RequestRate(Protocol):
    """A request rate shared by every instance, for blocking callers (`BlockingRate`)."""

    def acquire(self) -> None:
        """Wait for the next request's turn."""

    def throttled(self, retry_after: float | None) -> None:
        """The service answered 429."""

    def succeeded(self) -> None:
        """The service accepted a request."""


@dataclass(frozen=True)
class GateBackoff:
    """How long a 429 without `Retry-After` holds every instance back.

    Attributes:
        first_s: The wait after the first such 429; doubled for each closing in a row (one
            less than a minute after the last one opened).
        cap_s: The longest wait.
    """

    first_s: float = 2.0
    cap_s: float = 60.0

    def wait(self, retry_after: float | None, strikes: int) -> float:
        """The server's `Retry-After` when it gave one, else the backoff for `strikes` so far."""
        if retry_after is not None:
            return retry_after
        return float(min(self.cap_s, self.first_s * 2.0 ** min(strikes, 30)))


class CredlyBudget:
    """What one organisation may ask of Credly at once, across every thread and instance.

    Each request holds one of `max_concurrency` shared slots while it is in flight, waits for
    its turn of the shared rate (when one is set), and never starts while the organisation's
    gate is closed: a 429 closes it for every instance until its `Retry-After` (or a backoff).
    """

    def __init__(
        self,
        slots: SharedSlots,
        *,
        rate: RequestRate | None = None,
        backoff: GateBackoff | None = None,
    ) -> None:
        """Combine the organisation's slots, its rate and the gate's backoff.

        Args:
            slots: The organisation's shared concurrency slots (their gate is the 429 gate).
            rate: The organisation's shared request rate, or None for no rate.
            backoff: The gate's wait after a 429 without `Retry-After`.
        """
        self.slots = slots
        self.rate = rate
        self.backoff = backoff or GateBackoff()

    @contextlib.contextmanager
    def request(self) -> Iterator[Ticket]:
        """Hold the budget for one request; tell the ticket how Credly answered.

        Raises:
            SlotsUnavailableError: A retryable error: storage failed or no slot came free.
        """
        with self.slots.hold():
            if self.rate is not None:
                self.rate.acquire()
            # The ticket is answered while the slot is still held, so a 429 closes the gate
            # before anyone can take this slot for a request of their own.
            yield Ticket(self)

    def throttled(self, retry_after: float | None) -> None:
        """Credly answered 429: hold every instance back until `retry_after` (or a backoff)."""
        self.slots.close(lambda strikes: self.backoff.wait(retry_after, strikes))
        if self.rate is not None:
            self.rate.throttled(retry_after)


@dataclass
class Ticket:
    """One request's hold on the budget, told the answer's status."""

    budget: CredlyBudget

    def answered(self, status: int | None, retry_after: float | None) -> None:
        """Report Credly's answer (None: no answer came back) and its `Retry-After`."""
        budget = self.budget
        if status == 429:
            budget.throttled(retry_after)
        elif status is not None and status < 500 and budget.rate is not None:
            budget.rate.succeeded()


def budget_key(organization_id: str) -> str:
    """The slots' key of an organisation's Credly budget."""
    return f"credly-{organization_id}"


def credly_budget(
    tables: Tables,
    organization_id: str,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    *,
    rate: float | None = None,
    policy: SlotPolicy | None = None,
) -> CredlyBudget:
    """The Credly budget of one organisation on the connector's tables (one per process).

    Args:
        tables: Where the budget is shared (the `slots` and `budgets` tables).
        organization_id: Whose budget.
        max_concurrency: Requests in flight at once, across every instance.
        rate: Requests per second across every instance (`CREDLY_RATE`), None for no rate.
            Credly publishes no limit: this is a ceiling, lowered for a while after a 429.
        policy: Slot leases and waits.
    """
    slots = SharedSlots(SlotStore(tables), budget_key(organization_id), max_concurrency, policy)
    shared = None
    if rate is not None:
        ceiling = RatePolicy(start=rate, ceiling=rate, floor=min(1.0, rate))
        rows = BudgetStore(tables)
        shared = BlockingRate(SharedRate(f"credly:{organization_id}", rows, ceiling))
    return CredlyBudget(slots, rate=shared)


class BlockingRate:
    """A `SharedRate` for blocking callers: the Credly client runs on worker threads."""

    def __init__(self, rate: SharedRate) -> None:
        """Wrap a shared rate for threads that block.

        Args:
            rate: The shared rate (its `acquire` is a coroutine).
        """
        self.rate = rate

    def acquire(self) -> None:
        """Wait for the next request's turn (blocks this thread)."""
        _run(self.rate.acquire())

    def throttled(self, retry_after: float | None) -> None:
        """Credly answered 429."""
        self.rate.throttled(retry_after)

    def succeeded(self) -> None:
        """Credly accepted a request."""
        self.rate.succeeded()


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to its end from blocking code, even on a thread whose loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    # Called from inside a running loop (the client blocks it anyway): a loop of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()
