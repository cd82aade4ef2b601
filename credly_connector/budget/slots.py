"""A distributed semaphore: at most N holders of a key at once, across threads and instances.

Holders take leased slot rows (`budget.slot_store`), renew them while they hold them, free them
when done, and wait while every slot is busy or the key's gate is closed after a 429.

Threads of one process sharing a `SharedSlots` know which rows they hold: a taker tries a row
none of them holds (not one it knows is taken), and a waiter is woken as soon as one of them
frees a row, instead of at its next poll. Rows held by other instances are still learnt by
looking at the partition, and waited for by polling.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from credly_connector.budget.slot_store import (
    Slot,
    SlotStore,
    SlotsUnavailableError,
    slot_rows,
)


@dataclass(frozen=True)
class SlotPolicy:
    """How slots are leased and waited for.

    Attributes:
        lease_s: A slot taken and never released (its holder died) is free again after this.
        renew_s: A holder still busy renews its lease this often (well under `lease_s`).
        poll_s: The first wait when every slot is busy; doubled up to `poll_cap_s`, jittered.
        poll_cap_s: The longest wait between two looks at busy slots.
        max_wait_s: Give up (retryable) when no slot came free within this.
    """

    lease_s: float = 10.0
    renew_s: float = 3.0
    poll_s: float = 0.05
    poll_cap_s: float = 0.5
    max_wait_s: float = 60.0


class SharedSlots:
    """At most `capacity` holders of one key at once, across every thread and instance."""

    def __init__(
        self,
        store: SlotStore,
        key: str,
        capacity: int,
        policy: SlotPolicy | None = None,
    ) -> None:
        """Share `capacity` slots of `key` through `store`.

        Args:
            store: The slot rows.
            key: What the slots limit, e.g. `credly-<organisation id>`.
            capacity: How many may hold a slot at once.
            policy: Leases and waits.
        """
        self.store = store
        self.key = key
        self.capacity = capacity
        self.policy = policy or SlotPolicy()
        self._renewer = _Renewer(store, self.policy)
        self._rng = random.Random()
        # The rows this object's holders hold; notified (and counted) when one is freed.
        self._held_here: set[str] = set()
        self._freed = threading.Condition()
        self._frees = 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[Slot]:
        """Wait for a slot (and an open gate), hold it while the block runs, then free it.

        Costs two storage operations when a slot is free (one to take, one to release) and one
        renewal per `renew_s` of holding; when the row tried is taken, a query and a
        conditional take, and one more query for each look at busy slots.

        Raises:
            SlotsUnavailableError: Storage failed, or no slot came free within `max_wait_s`.
        """
        slot = self._take()
        self._renewer.add(slot)
        try:
            yield slot
        finally:
            held = self._renewer.remove(slot)
            with contextlib.suppress(SlotsUnavailableError):  # the lease frees it soon anyway
                self.store.release(held)
            with self._freed:
                self._held_here.discard(slot.row)
                self._frees += 1
                self._freed.notify()

    def close(self, wait_s: Callable[[int], float]) -> datetime:
        """Hold every instance back: no slot is taken before now + `wait_s(closings so far)`."""
        return self.store.close(self.key, self.capacity, wait_s)

    def _take(self) -> Slot:
        policy = self.policy
        deadline = time.monotonic() + policy.max_wait_s
        poll = policy.poll_s
        # Most often some slot is free: try one blindly first (creating its row is the take),
        # and again after a holder here freed one.
        blind = True
        while True:
            frees = self._frees  # a row freed here from now on wakes the wait below
            if blind and (slot := self._take_blindly()) is not None:
                return slot
            snapshot = self.store.look(self.key, self.capacity)
            now = self.store.clock()
            if snapshot.closed_until is not None and snapshot.closed_until > now:
                wait = (snapshot.closed_until - now).total_seconds()
                # Not all at once when the gate opens: spread the waiters a little.
                self._wait(wait + self._rng.uniform(0.0, policy.poll_cap_s), deadline, wait)
                blind = False
                continue
            rows = list(snapshot.free.items())
            self._rng.shuffle(rows)  # spread takers over the free rows to lower conflicts
            for row, etag in rows:
                slot = self.store.take(self.key, row, etag, policy.lease_s)
                if slot is not None:
                    return self._holding(slot)
            blind = self._wait_for_free(poll * (0.5 + self._rng.random() / 2), deadline, frees)
            poll = min(policy.poll_cap_s, poll * 2)

    def _take_blindly(self) -> Slot | None:
        """Create a row no holder here holds (picked at random); None when taken or none."""
        with self._freed:
            unheld = [r for r in slot_rows(self.capacity) if r not in self._held_here]
        if not unheld:
            return None
        slot = self.store.take(self.key, self._rng.choice(unheld), None, self.policy.lease_s)
        return None if slot is None else self._holding(slot)

    def _holding(self, slot: Slot) -> Slot:
        with self._freed:
            self._held_here.add(slot.row)
        return slot

    def _wait_for_free(self, seconds: float, deadline: float, frees: int) -> bool:
        """Wait `seconds`, less if a holder here freed its row since `frees` (then True)."""
        self._check_deadline(seconds, deadline)
        with self._freed:
            return self._freed.wait_for(lambda: self._frees != frees, seconds)

    def _wait(self, seconds: float, deadline: float, closed_s: float | None = None) -> None:
        self._check_deadline(seconds, deadline, closed_s)
        time.sleep(seconds)

    def _check_deadline(
        self, seconds: float, deadline: float, closed_s: float | None = None
    ) -> None:
        if time.monotonic() + seconds > deadline:
            if closed_s is not None:
                raise SlotsUnavailableError(
                    f"{self.key} is held back for {closed_s:.1f} s more", retry_after=closed_s
                )
            raise SlotsUnavailableError(
                f"no concurrency slot of {self.key} came free within {self.policy.max_wait_s:g} s"
            )


@dataclass
class _Renewer:
    """One thread per process renewing the leases of the slots held longer than `renew_s`."""

    store: SlotStore
    policy: SlotPolicy
    _held: dict[tuple[str, str, str], tuple[Slot, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def add(self, slot: Slot) -> None:
        with self._lock:
            self._held[_id(slot)] = (slot, time.monotonic() + self.policy.renew_s)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="slot-renewer", daemon=True)
                self._thread.start()

    def remove(self, slot: Slot) -> Slot:
        """Stop renewing; the slot with its latest ETag."""
        with self._lock:
            held = self._held.pop(_id(slot), None)
        return slot if held is None else held[0]

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._held:
                    self._thread = None
                    return
                now = time.monotonic()
                due = [slot for slot, at in self._held.values() if at <= now]
            for slot in due:
                self._renew(slot)
            time.sleep(min(0.5, self.policy.renew_s / 4))

    def _renew(self, slot: Slot) -> None:
        try:
            renewed = self.store.renew(slot, self.policy.lease_s)
        except SlotsUnavailableError:
            renewed = slot  # try again next round; the lease is still ours for a while
        with self._lock:
            if _id(slot) in self._held:  # not released meanwhile
                self._held[_id(slot)] = (
                    renewed or slot,
                    time.monotonic() + self.policy.renew_s,
                )


def _id(slot: Slot) -> tuple[str, str, str]:
    return (slot.key, slot.row, slot.holder)
