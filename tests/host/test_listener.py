"""The queue listener on Azurite: lease renewal, retries, poison moves (no app, no process)."""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import azure.functions as func
import pytest
from azure.storage.queue import QueueClient, QueueServiceClient

from devstack.azurite import Azurite
from devstack.host.functions import QueueFunction
from devstack.host.hostjson import QueueOptions
from devstack.host.invocations import Invocations, worker_threads
from devstack.host.queues import LeaseRenewer, QueueListener
from tests.host.conftest import wait_until

OPTIONS = QueueOptions(
    batch_size=4,
    new_batch_threshold=2,
    max_dequeue_count=3,
    visibility_timeout_s=0.0,
    max_polling_interval_s=0.2,
)


class Calls:
    """What the function under test saw: (body, dequeue count) per invocation."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, int]] = []
        self._lock = threading.Lock()

    def add(self, msg: func.QueueMessage) -> None:
        with self._lock:
            self.seen.append((msg.get_body(), int(msg.dequeue_count or 0)))


@contextmanager
def listening(
    azurite: Azurite,
    handler: Callable[..., Any],
    *,
    lease_s: float,
    renew: bool = True,
    threads: int = 4,
    preload: Sequence[bytes] = (),
) -> Iterator[QueueClient]:
    """A listener for a fresh queue, running until the block ends; yields the queue.

    Args:
        preload: Messages on the queue before the listener's first poll (so a slow send
            cannot split them over several polls).
    """
    service = QueueServiceClient.from_connection_string(azurite.connection_string)
    name = "listen" + uuid.uuid4().hex[:12]
    if preload:
        service.create_queue(name)
        for body in preload:
            send(service.get_queue_client(name), body)
    function = QueueFunction(name, name, "AzureWebJobsStorage", "msg", handler)
    stopping = threading.Event()
    renewer = LeaseRenewer(lease_s)
    invocations = Invocations(threads)
    listener = QueueListener(
        function, service, OPTIONS, invocations=invocations, renewer=renewer, stopping=stopping
    )
    if renew:
        renewer.start()
    listener.thread.start()
    queue = service.get_queue_client(name)
    wait_until(lambda: name + "-poison" in [q.name for q in service.list_queues()], "queues")
    try:
        yield queue
    finally:
        stopping.set()
        listener.thread.join(timeout=10)
        assert invocations.drain(15)
        assert listener.wait_settled(10)
        renewer.stop()


def send(queue: QueueClient, body: bytes) -> None:
    queue.send_message(base64.b64encode(body).decode())


def visible(queue: QueueClient) -> int:
    return len(queue.peek_messages(max_messages=32))


@pytest.mark.parametrize("renew", [True, False])
def test_a_function_outliving_its_lease_is_delivered_once_while_renewed(
    azurite: Azurite, renew: bool
) -> None:
    # Given a function that runs 4.5 s and a message lease of 2 s.
    calls = Calls()

    def slow(msg: func.QueueMessage) -> None:
        calls.add(msg)
        time.sleep(4.5)

    with listening(azurite, slow, lease_s=2.0, renew=renew) as queue:
        # When one message arrives and the function runs past its lease.
        send(queue, b"slow")
        wait_until(lambda: len(calls.seen) >= 1, "the first invocation")
        time.sleep(4.0)
        # Then, renewed, it is not delivered again while it runs; without renewal (the
        # control), it would be.
        if renew:
            assert calls.seen == [(b"slow", 1)]
        else:
            assert calls.seen[:2] == [(b"slow", 1), (b"slow", 2)]
        wait_until(lambda: queue.get_queue_properties().approximate_message_count == 0, "delete")
    if renew:
        assert calls.seen == [(b"slow", 1)]


def test_a_failing_message_is_retried_then_moved_to_poison(azurite: Azurite) -> None:
    calls = Calls()

    def failing(msg: func.QueueMessage) -> None:
        calls.add(msg)
        raise RuntimeError("always")

    with listening(azurite, failing, lease_s=4.0) as queue:
        send(queue, b"bad")
        poison = QueueClient.from_connection_string(
            azurite.connection_string, queue.queue_name + "-poison"
        )
        wait_until(lambda: visible(poison) == 1, "the poison move")

        assert calls.seen == [(b"bad", 1), (b"bad", 2), (b"bad", 3)]
        (moved,) = poison.peek_messages()
        assert base64.b64decode(moved.content) == b"bad"  # as received, still encoded
        assert visible(queue) == 0


def test_a_message_that_is_not_base64_goes_to_poison_without_an_invocation(
    azurite: Azurite,
) -> None:
    calls = Calls()
    with listening(azurite, calls.add, lease_s=4.0) as queue:
        queue.send_message("{not base64}")
        poison = QueueClient.from_connection_string(
            azurite.connection_string, queue.queue_name + "-poison"
        )
        wait_until(lambda: visible(poison) == 1, "the poison move")
        send(queue, b"good")
        wait_until(lambda: len(calls.seen) == 1, "the good message")

    assert calls.seen == [(b"good", 1)]


def test_invocations_of_one_function_run_at_once_on_the_worker_threads(
    azurite: Azurite,
) -> None:
    # Given a function whose invocations can only finish when three run at the same time.
    together = threading.Barrier(3, timeout=20)
    calls = Calls()

    def meet(msg: func.QueueMessage) -> None:
        together.wait()
        calls.add(msg)

    with listening(azurite, meet, lease_s=10.0) as queue:
        # When three messages arrive.
        for body in (b"a", b"b", b"c"):
            send(queue, body)
        # Then all three ran at once (a serial worker would break the barrier).
        wait_until(lambda: len(calls.seen) == 3, "three invocations")
    assert not together.broken
    assert sorted(body for body, _ in calls.seen) == [b"a", b"b", b"c"]


def test_the_next_batch_is_fetched_when_in_flight_drops_to_the_threshold(
    azurite: Azurite,
) -> None:
    # Given 12 messages and a function that holds each until told (batch 4, threshold 2).
    started: list[bytes] = []
    gates = {bytes([65 + n]): threading.Event() for n in range(12)}
    lock = threading.Lock()

    def held(msg: func.QueueMessage) -> None:
        with lock:
            started.append(msg.get_body())
        assert gates[msg.get_body()].wait(30)

    with listening(azurite, held, lease_s=10.0, threads=16, preload=list(gates)):
        # When the first batch runs: nothing more is fetched while 4 > 2 are in flight.
        wait_until(lambda: len(started) == 4, "the first batch")
        time.sleep(1.0)
        assert len(started) == 4

        # When two of them end (in flight: 2), the next batch of 4 comes: 6 in flight.
        for body in started[:2]:
            gates[body].set()
        wait_until(lambda: len(started) == 8, "the second batch")
        time.sleep(1.0)
        assert len(started) == 8
        for gate in gates.values():
            gate.set()
        wait_until(lambda: len(started) == 12, "the rest")


def test_the_thread_pool_size_follows_the_setting_with_the_workers_default() -> None:
    assert worker_threads({"PYTHON_THREADPOOL_THREAD_COUNT": "3"}) == 3
    assert worker_threads({}) == min(32, (os.cpu_count() or 1) + 4)
    assert worker_threads({"PYTHON_THREADPOOL_THREAD_COUNT": "many"}) == worker_threads({})
