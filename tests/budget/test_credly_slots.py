"""Shared concurrency slots on Azurite: the bound across threads, leases, renewal, the gate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from credly_connector.budget.credly import GateBackoff
from credly_connector.budget.slot_store import (
    GATE_HOLDER,
    GATE_ROW,
    SlotStore,
    SlotsUnavailableError,
    read_snapshot,
    slot_rows,
)
from credly_connector.budget.slots import SharedSlots, SlotPolicy
from credly_connector.errors import RetryableError
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite

QUICK = SlotPolicy(lease_s=1.5, renew_s=0.4, poll_s=0.02, poll_cap_s=0.1, max_wait_s=20.0)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def store(azurite: Azurite, storage_name: str) -> SlotStore:
    # No tables.ensure(): the slot table is made on first use.
    return SlotStore(Tables.from_connection_string(azurite.connection_string, storage_name))


def test_threads_never_hold_more_slots_than_the_capacity_and_all_finish(store: SlotStore) -> None:
    # Given two slots shared by eight threads, each with its own SharedSlots (as instances).
    in_flight, most, done = 0, 0, []
    lock = threading.Lock()

    def work(name: int) -> None:
        nonlocal in_flight, most
        slots = SharedSlots(store, "org", 2, QUICK)
        for _ in range(3):
            with slots.hold():
                with lock:
                    in_flight += 1
                    most = max(most, in_flight)
                time.sleep(0.05)
                with lock:
                    in_flight -= 1
        done.append(name)

    # When they all work at once.
    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then never more than two held a slot at once, and every thread finished.
    assert sorted(done) == list(range(8))
    assert 1 <= most <= 2


def test_a_slot_never_released_is_free_again_once_its_lease_expired(store: SlotStore) -> None:
    # Given the only slot taken by a holder that then vanished (never released, never renewed).
    first = store.look("org", 1)
    taken = store.take("org", "slot-000", first.free["slot-000"], QUICK.lease_s)
    assert taken is not None
    expires = datetime.fromisoformat(store.table.get_entity("org", "slot-000")["expires_at"])
    assert store.look("org", 1).busy == 1

    # When another holder asks for it.
    with SharedSlots(store, "org", 1, QUICK).hold():
        taken_at = store.clock()

    # Then it waited for the lease to expire, and got the slot.
    assert taken_at >= expires


def test_a_renewed_slot_stays_held_past_its_lease(store: SlotStore) -> None:
    # Given the only slot held three leases long by a busy holder.
    slots = SharedSlots(store, "org", 1, QUICK)
    impatient = SharedSlots(store, "org", 1, SlotPolicy(lease_s=1.5, max_wait_s=0.3))
    refused = []
    with slots.hold():
        deadline = time.monotonic() + 3 * QUICK.lease_s
        while time.monotonic() < deadline:
            # When others ask for it meanwhile.
            try:
                with impatient.hold():
                    refused.append(False)
            except SlotsUnavailableError:
                refused.append(True)
    # Then nobody got it: the holder renewed its lease.
    assert refused
    assert all(refused)
    # And once released it is free at once.
    with impatient.hold():
        pass


def test_a_waiter_takes_a_slot_freed_by_its_own_process_without_waiting_for_its_poll(
    store: SlotStore,
) -> None:
    # Given the only slot held by one thread, and a long poll: a waiter that only polled
    # would look again after 5 s at the earliest.
    slots = SharedSlots(store, "org", 1, SlotPolicy(lease_s=30.0, poll_s=10.0, max_wait_s=30.0))
    first = slots.hold()
    first.__enter__()
    taken_at: list[float] = []

    def wait_for_it() -> None:
        with slots.hold():
            taken_at.append(time.monotonic())

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    time.sleep(0.5)  # the waiter looked, found the slot busy and waits
    assert not taken_at

    # When the holder frees it.
    freed_at = time.monotonic()
    first.__exit__(None, None, None)
    waiter.join(timeout=30)

    # Then the waiter, woken by the release, took it long before its next look.
    assert taken_at
    assert taken_at[0] - freed_at < 2.5
    assert store.look("org", 1).busy == 0


def test_no_slot_is_taken_while_the_gate_is_closed(store: SlotStore) -> None:
    # Given a gate closed for 1.5 s (a 429's Retry-After).
    slots = SharedSlots(store, "org", 2, QUICK)
    until = slots.close(lambda strikes: 1.5)

    # When a holder asks for a slot.
    with slots.hold():
        taken_at = store.clock()

    # Then it got one only after the gate opened.
    assert taken_at >= until


def test_closings_combine_the_later_end_wins_and_they_count(store: SlotStore) -> None:
    # Given a holder, and a long closing by one instance, then a shorter one by another.
    slots = SharedSlots(store, "org", 2, QUICK)
    seen: list[int] = []

    def wait(seconds: float) -> Callable[[int], float]:
        def of(strikes: int) -> float:
            seen.append(strikes)
            return seconds

        return of

    with slots.hold():
        long_until = slots.close(wait(30.0))
        again = slots.close(wait(1.0))
    # (The holder's release left the gate's hold on its slot alone.)

    # Then the gate holds every slot the longer time, and each closing saw those before it.
    assert again == long_until
    snapshot = store.look("org", 2)
    assert snapshot.closed_until == long_until
    assert (snapshot.busy, snapshot.free) == (2, {})
    assert snapshot.strikes == 2
    assert seen == [0, 1]


def test_storage_failing_while_taking_a_slot_is_a_retryable_error() -> None:
    # Given slots on a storage account nobody listens on.
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    )
    tables = Tables.from_connection_string(dead, "t", retry_total=0)
    slots = SharedSlots(SlotStore(tables), "org", 2, QUICK)

    # When a slot is asked for, the failure is retryable (a page tried again later).
    with pytest.raises(SlotsUnavailableError) as raised, slots.hold():
        pass
    assert isinstance(raised.value, RetryableError)
    assert "storage failed" in str(raised.value)


def test_a_partition_reads_as_free_busy_and_gate_rows() -> None:
    later = "2026-12-01T00:00:10+00:00"
    earlier = "2026-11-30T23:59:50+00:00"
    gated = "2026-12-01T00:00:30+00:00"
    entities: list[dict[str, Any]] = [
        {"RowKey": "slot-000", "holder": "a", "expires_at": later},
        {"RowKey": "slot-001", "holder": "b", "expires_at": earlier},
        {"RowKey": "slot-002", "holder": GATE_HOLDER, "expires_at": gated},
        {"RowKey": "slot-009", "holder": "c", "expires_at": later},  # past the capacity
        {"RowKey": GATE_ROW, "until": gated, "strikes": 3},
    ]

    snapshot = read_snapshot(entities, 4, NOW)

    assert snapshot.busy == 2
    assert sorted(snapshot.free) == ["slot-001", "slot-003"]
    assert snapshot.free["slot-003"] is None  # absent: free
    assert snapshot.closed_until == datetime.fromisoformat(gated)
    assert snapshot.strikes == 3
    assert slot_rows(2) == ["slot-000", "slot-001"]


def test_the_gate_waits_the_retry_after_or_a_doubling_backoff() -> None:
    backoff = GateBackoff(first_s=2.0, cap_s=20.0)

    assert backoff.wait(7.0, strikes=5) == 7.0
    assert [backoff.wait(None, n) for n in range(5)] == [2.0, 4.0, 8.0, 16.0, 20.0]
