"""The queue listener: polls one trigger's queue as the host does, invokes, settles, renews."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.functions.queue import QueueMessage as FunctionQueueMessage
from azure.storage.queue import QueueClient, QueueMessage, QueueServiceClient

from devstack.host.functions import QueueFunction
from devstack.host.hostjson import QueueOptions
from devstack.host.invocations import Invocations

log = logging.getLogger("devstack.host")
POISON_SUFFIX = "-poison"


@dataclass
class InFlight:
    """A received message while its function runs: the receipt changes at each renewal."""

    client: QueueClient
    message: QueueMessage
    pop_receipt: str
    renew_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    settled: bool = False


class LeaseRenewer:
    """Keeps in-flight messages invisible while their functions run, as the host does.

    Each message is received with a visibility of `lease_s` and renewed every `lease_s / 2`,
    so a long invocation is never delivered a second time; a killed instance renews nothing
    and its messages reappear once their lease ends.
    """

    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s
        self._held: dict[int, InFlight] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)

    def start(self) -> None:
        """Start renewing in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (messages still held reappear when their lease ends)."""
        self._stop.set()

    def hold(self, item: InFlight) -> None:
        """Renew `item` until it is released."""
        with self._lock:
            self._held[id(item)] = item

    def release(self, item: InFlight) -> None:
        """Stop renewing `item`."""
        with self._lock:
            self._held.pop(id(item), None)

    def _run(self) -> None:
        while not self._stop.wait(min(1.0, self.lease_s / 8)):
            now = time.monotonic()
            with self._lock:
                due = [item for item in self._held.values() if item.renew_at <= now]
            for item in due:
                self._renew(item)

    def _renew(self, item: InFlight) -> None:
        with item.lock:
            if item.settled:
                return
            try:
                answer = item.client.update_message(
                    item.message.id, item.pop_receipt, visibility_timeout=int(self.lease_s)
                )
            except AzureError as error:
                log.warning("renewing message %s failed: %s", item.message.id, error)
                item.renew_at = time.monotonic() + 1.0
                return
            item.pop_receipt = str(answer.pop_receipt)
            item.renew_at = time.monotonic() + self.lease_s / 2


class QueueListener:
    """Polls the queue of one queue-trigger function and invokes it per message.

    Fetches `batch_size` messages, and the next batch once in-flight ones drop to
    `new_batch_threshold`; an empty queue is polled less and less often (from 100 ms up to
    `max_polling_interval_s`). A success deletes the message; a failure makes it visible
    again after `visibility_timeout_s`, or moves it to `<queue>-poison` on its last delivery.
    """

    def __init__(
        self,
        function: QueueFunction,
        service: QueueServiceClient,
        options: QueueOptions,
        *,
        invocations: Invocations,
        renewer: LeaseRenewer,
        stopping: threading.Event,
    ) -> None:
        self.function = function
        self.name = f"{function.name} ({function.queue})"
        self.options = options
        self.invocations = invocations
        self.renewer = renewer
        self.stopping = stopping
        self.queue = service.get_queue_client(function.queue)
        self.poison = service.get_queue_client(function.queue + POISON_SUFFIX)
        self._in_flight = 0
        self._created = False
        self._changed = threading.Condition()
        self.thread = threading.Thread(target=self.run, name=f"queue-{function.name}", daemon=True)

    def run(self) -> None:
        """Poll until `stopping` is set."""
        delay, failing = 0.0, False
        while not self.stopping.is_set():
            with self._changed:
                while self._in_flight > self.options.new_batch_threshold:
                    self._changed.wait(0.5)
                    if self.stopping.is_set():
                        return
            try:
                for client in () if self._created else (self.queue, self.poison):
                    # The host creates the queues it listens to, and their poison queues.
                    with contextlib.suppress(ResourceExistsError):
                        client.create_queue()
                self._created = True
                pages = self.queue.receive_messages(
                    messages_per_page=self.options.batch_size,
                    visibility_timeout=int(self.renewer.lease_s),
                ).by_page()
                messages = list(next(pages, []))  # one request: iterating on would fetch more
            except AzureError as error:  # as the host does: log, and poll again later
                if not failing:  # once per outage, not once per poll
                    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                    log.warning("%s: polling failed (%s); trying again", self.name, reason)
                failing, messages = True, []
            else:
                if failing:
                    log.warning("%s: polling works again", self.name)
                failing = False
            for message in messages:
                try:
                    self._dispatch(message)
                except AzureError as error:  # it reappears after its lease
                    log.warning("%s: message %s: %s", self.name, message.id, error)
            delay = (
                0.0 if messages else min(max(delay * 2, 0.1), self.options.max_polling_interval_s)
            )
            self.stopping.wait(delay)

    def wait_settled(self, timeout_s: float) -> bool:
        """Wait until every received message was deleted, moved or released (True: all)."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._in_flight, timeout_s)

    def _dispatch(self, message: QueueMessage) -> None:
        count, receipt = int(message.dequeue_count or 1), str(message.pop_receipt)
        if count > self.options.max_dequeue_count:
            self._poison(message, receipt, "was delivered too often")
            return
        content = str(message.content or "")
        try:
            encoded = self.options.message_encoding == "base64"
            body = base64.b64decode(content, validate=True) if encoded else content.encode()
        except binascii.Error:
            self._poison(message, receipt, "is not valid base64")
            return
        argument = FunctionQueueMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=count,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        item = InFlight(self.queue, message, receipt, time.monotonic() + self.renewer.lease_s / 2)
        with self._changed:
            self._in_flight += 1
        self.renewer.hold(item)
        future = self.invocations.submit(
            self.function,
            argument,
            detail=f"message {message.id}, delivery {count}",
            trigger=self.queue.queue_name,
        )
        future.add_done_callback(lambda done: self._settle(item, done))

    def _settle(self, item: InFlight, done: Future[Any]) -> None:
        """Delete the message of a success; release, retry later or poison the others."""
        self.renewer.release(item)
        message, count = item.message, int(item.message.dequeue_count or 1)
        error = None if done.cancelled() else done.exception()
        try:
            with item.lock:
                item.settled = True
                if done.cancelled():  # received, never started (the instance is stopping)
                    self.queue.update_message(message.id, item.pop_receipt, visibility_timeout=0)
                elif error is None:
                    self.queue.delete_message(message.id, item.pop_receipt)
                else:
                    log.error(
                        "%s failed (message %s, delivery %d of %d): %s: %s",
                        self.function.name,
                        message.id,
                        count,
                        self.options.max_dequeue_count,
                        type(error).__name__,
                        error,
                    )
                    if count >= self.options.max_dequeue_count:
                        self._poison(message, item.pop_receipt, f"failed on all {count} deliveries")
                    else:
                        retry_s = int(self.options.visibility_timeout_s)
                        self.queue.update_message(
                            message.id, item.pop_receipt, visibility_timeout=retry_s
                        )
        except AzureError as failure:
            # Not deleted or moved: the message reappears after its lease; functions are
            # idempotent, as they must be under at-least-once delivery.
            log.warning("%s: settling message %s failed: %s", self.name, message.id, failure)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def _poison(self, message: QueueMessage, receipt: str, why: str) -> None:
        """Copy the message (as received, still encoded) to the poison queue, then delete it."""
        self.poison.send_message(message.content)
        self.queue.delete_message(message.id, receipt)
        log.error(
            "%s: message %s %s; moved to %s",
            self.function.name,
            message.id,
            why,
            self.poison.queue_name,
        )
