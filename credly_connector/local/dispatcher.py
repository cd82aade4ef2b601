"""A local stand-in for the Functions host's queue triggers, on the real Storage queues.

It receives messages the way the host does (visibility timeout, dequeue count), calls the
same entry points the bindings call, deletes a message once its handler returned, lets a
failed one reappear after a short delay, and moves it to the `-poison` queue after the
host's maximum number of deliveries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from azure.core.exceptions import AzureError
from azure.storage.queue import QueueMessage

from credly_connector.pipeline.context import DEFAULT_MAX_DEQUEUE_COUNT, CrawlContext, Delivery
from credly_connector.pipeline.dispatch import handle_message, handle_poison
from credly_connector.pipeline.messages import FINISH, PAGES, PLAN, PROFILES, START
from credly_connector.pipeline.queues import EVENTS

log = logging.getLogger(__name__)
# Later stages first, so a crawl drains instead of piling up pages; webhook events before all,
# as each is one person waiting for a near-real-time update.
STAGE_ORDER = (EVENTS, FINISH, PROFILES, PLAN, START, PAGES)


@dataclass
class DispatchStats:
    """What the dispatcher did."""

    handled: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    poisoned: Counter[str] = field(default_factory=Counter)


class LocalDispatcher:
    """Drains the pipeline's queues with a pool of worker threads until told to stop."""

    def __init__(
        self,
        ctx: CrawlContext,
        *,
        workers: int = 4,
        visibility_timeout_s: int = 120,
        retry_delay_s: int = 1,
        max_dequeue_count: int = DEFAULT_MAX_DEQUEUE_COUNT,
        poll_interval_s: float = 0.05,
        max_idle_s: float = 0.8,
    ) -> None:
        self.ctx = ctx
        self.workers = workers
        self.visibility_timeout_s = visibility_timeout_s
        self.retry_delay_s = retry_delay_s
        self.max_dequeue_count = max_dequeue_count
        self.poll_interval_s = poll_interval_s
        self.max_idle_s = max_idle_s
        self.stats = DispatchStats()
        self._lock = threading.Lock()

    def run_until(
        self,
        done: Callable[[], bool],
        *,
        timeout_s: float = 600.0,
        on_tick: Callable[[], None] | None = None,
    ) -> bool:
        """Dispatch until `done()` is true (True) or `timeout_s` passed (False)."""
        deadline = time.monotonic() + timeout_s
        in_flight: set[Future[None]] = set()
        # Each queue is polled again at once after it gave messages or when this process
        # sent to it; an empty one less and less often, up to `max_idle_s`. A finished
        # handler wakes the loop (it has usually sent the next stage's messages).
        woken = threading.Event()
        delay = dict.fromkeys(STAGE_ORDER, self.poll_interval_s)
        due = dict.fromkeys(STAGE_ORDER, 0.0)
        seen = dict.fromkeys(STAGE_ORDER, -1)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="dispatch") as pool:
            while time.monotonic() < deadline:
                in_flight = {f for f in in_flight if not f.done()}
                received = 0
                for stage in STAGE_ORDER:
                    room = self.workers * 2 - len(in_flight)
                    if room <= 0:
                        break
                    now = time.monotonic()
                    sent = self.ctx.queues.sent_by_stage[stage]
                    if sent == seen[stage] and now < due[stage]:
                        continue
                    seen[stage] = sent
                    messages = self._receive(stage, min(room, 32))
                    delay[stage] = (
                        self.poll_interval_s if messages else min(delay[stage] * 2, self.max_idle_s)
                    )
                    due[stage] = now + (0.0 if messages else delay[stage])
                    for message in messages:
                        future = pool.submit(self._handle, stage, message)
                        future.add_done_callback(lambda _: woken.set())
                        in_flight.add(future)
                        received += 1
                if on_tick is not None:
                    on_tick()
                if not in_flight and not received and done():
                    return True
                if not received:
                    wait = min(due.values()) - time.monotonic()
                    woken.wait(max(wait, self.poll_interval_s))
                    woken.clear()
            for future in in_flight:
                future.cancel()
        return done()

    def _receive(self, stage: str, limit: int) -> list[QueueMessage]:
        """Up to `limit` messages of a stage; none while the queue service is unreachable."""
        client = self.ctx.queues.client(stage)
        try:
            pages = client.receive_messages(
                messages_per_page=limit, visibility_timeout=self.visibility_timeout_s
            ).by_page()
            # One request: iterating on would ask again, and stopping part-way through a
            # later page would leave its other messages received, unhandled and invisible
            # until their visibility timeout (which stalled a crawl for two minutes).
            return list(next(pages, []))
        except AzureError as error:  # as the host does: log, and poll again later
            log.warning("receiving %s messages failed: %s", stage, error)
            return []

    def _handle(self, stage: str, message: QueueMessage) -> None:
        """Run one message's handler and settle it; a failed settle leaves it to reappear."""
        try:
            self._handle_and_settle(stage, message)
        except AzureError as error:
            # Not deleted (or not moved): the message comes back after its visibility
            # timeout, and the handlers are idempotent.
            log.warning("settling a %s message failed: %s", stage, error)

    def _handle_and_settle(self, stage: str, message: QueueMessage) -> None:
        client = self.ctx.queues.client(stage)
        delivery = Delivery(
            message.dequeue_count or 1, self.max_dequeue_count, enqueued_at=message.inserted_on
        )
        try:
            handle_message(self.ctx, stage, message.content, delivery)
        except Exception as error:
            with self._lock:
                self.stats.failed[stage] += 1
            if delivery.final:
                log.warning("%s message moved to the poison queue: %s", stage, error)
                self.ctx.queues.client(stage, poison=True).send_message(message.content)
                client.delete_message(message)
                with self._lock:
                    self.stats.poisoned[stage] += 1
                handle_poison(self.ctx, stage, message.content)
            else:
                client.update_message(message, visibility_timeout=self.retry_delay_s)
            return
        client.delete_message(message)
        with self._lock:
            self.stats.handled[stage] += 1
