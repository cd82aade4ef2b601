"""The queue listener on Azurite: lease renewal, retries, poison moves (no app, no process)."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import azure.functions as func
import pytest
from azure.storage.queue import QueueClient, QueueServiceClient

from devstack.azurite import Azurite
from devstack.host.functions import QueueFunction
from devstack.host.hostjson import QueueOptions
from devstack.host.invocations import Invocations
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
    azurite: Azurite, handler: Callable[..., Any], *, lease_s: float, renew: bool = True
) -> Iterator[QueueClient]:
    """A listener for a fresh queue, running until the block ends; yields the queue."""
    service = QueueServiceClient.from_connection_string(azurite.connection_string)
    name = "listen" + uuid.uuid4().hex[:12]
    function = QueueFunction(name, name, "AzureWebJobsStorage", "msg", handler)
    stopping = threading.Event()
    renewer = LeaseRenewer(lease_s)
    invocations = Invocations(4)
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
        wait_until(lambda: visible(queue) == 0 and not queue.peek_messages(), "the delete")
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
