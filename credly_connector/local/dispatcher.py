"""A local stand-in for the Functions host's queue triggers, on the real Storage queues.

It receives messages the way the host does (visibility timeout, dequeue count), calls the
same entry points the bindings call, deletes a message once its handler returned, lets a
failed one reappear after a short delay, and moves it to the `-poison` queue after the
host's maximum number of deliveries.

Like the host, it takes a received message for a short lease only and renews the lease
while the message waits or its handler runs: a long stage is never delivered a second time
while it still runs, and the messages of a process that was killed come back within one
lease. Stopped by Ctrl-C, it takes no more messages, gives back those it had not started,
and lets running handlers finish for a few seconds before it abandons them (their messages
reappear once their lease runs out).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for

from credly_connector.local.held import DispatchStats, Held, HeldMessages
from credly_connector.pipeline.context import DEFAULT_MAX_DEQUEUE_COUNT, CrawlContext, Delivery
from credly_connector.pipeline.dispatch import handle_message, handle_poison
from credly_connector.pipeline.messages import FINISH, PAGES, PLAN, PROFILES, START
from credly_connector.pipeline.queues import EVENTS

log = logging.getLogger(__name__)
# Later stages first, so a crawl drains instead of piling up pages; webhook events before all,
# as each is one person waiting for a near-real-time update.
STAGE_ORDER = (EVENTS, FINISH, PROFILES, PLAN, START, PAGES)
# A received message is hidden this long and renewed while held: a killed process's
# messages come back this soon.
LEASE_S = 30
# How long Ctrl-C waits for running handlers before abandoning them.
GRACE_S = 5.0


class LocalDispatcher:
    """Drains the pipeline's queues with a pool of worker threads until told to stop.

    Args:
        visibility_timeout_s: The lease of a received message: how long it stays hidden
            unless renewed (renewed every `renew_every_s`, by default a third of it).
        grace_s: How long an interrupted run waits for its running handlers.
    """

    def __init__(
        self,
        ctx: CrawlContext,
        *,
        workers: int = 4,
        visibility_timeout_s: int = LEASE_S,
        renew_every_s: float | None = None,
        retry_delay_s: int = 1,
        max_dequeue_count: int = DEFAULT_MAX_DEQUEUE_COUNT,
        poll_interval_s: float = 0.05,
        max_idle_s: float = 0.8,
        grace_s: float = GRACE_S,
    ) -> None:
        """A dispatcher of `ctx`'s queues (it starts nothing until `run_until`)."""
        self.ctx = ctx
        self.workers = workers
        self.visibility_timeout_s = visibility_timeout_s
        self.renew_every_s = (
            renew_every_s if renew_every_s is not None else min(10.0, visibility_timeout_s / 3)
        )
        self.retry_delay_s = retry_delay_s
        self.max_dequeue_count = max_dequeue_count
        self.poll_interval_s = poll_interval_s
        self.max_idle_s = max_idle_s
        self.grace_s = grace_s
        self.stats = DispatchStats()
        self._lock = threading.Lock()
        self.messages = HeldMessages(ctx, visibility_timeout_s, self.stats, self._lock)
        self._held: dict[Future[None], Held] = {}

    def run_until(
        self,
        done: Callable[[], bool],
        *,
        timeout_s: float = 600.0,
        on_tick: Callable[[], None] | None = None,
    ) -> bool:
        """Dispatch until `done()` is true (True) or `timeout_s` passed (False).

        Raises:
            KeyboardInterrupt: On Ctrl-C, once the messages not started were given back and
                the running handlers finished or `grace_s` passed.
        """
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="dispatch")
        stop_renewing = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(stop_renewing,), name="dispatch-renew", daemon=True
        )
        renewer.start()
        try:
            return self._dispatch(pool, done, timeout_s, on_tick)
        except KeyboardInterrupt:
            self._stop(pool, self.grace_s)
            raise
        finally:
            stop_renewing.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def _dispatch(
        self,
        pool: ThreadPoolExecutor,
        done: Callable[[], bool],
        timeout_s: float,
        on_tick: Callable[[], None] | None,
    ) -> bool:
        deadline = time.monotonic() + timeout_s
        # Each queue is polled again at once after it gave messages or when this process
        # sent to it; an empty one less and less often, up to `max_idle_s`. A finished
        # handler wakes the loop (it has usually sent the next stage's messages).
        woken = threading.Event()
        delay = dict.fromkeys(STAGE_ORDER, self.poll_interval_s)
        due = dict.fromkeys(STAGE_ORDER, 0.0)
        seen = dict.fromkeys(STAGE_ORDER, -1)
        while time.monotonic() < deadline:
            in_flight = self._in_flight()
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
                messages = self.messages.receive(stage, min(room, 32))
                delay[stage] = (
                    self.poll_interval_s if messages else min(delay[stage] * 2, self.max_idle_s)
                )
                due[stage] = now + (0.0 if messages else delay[stage])
                for message in messages:
                    held = Held(stage, message)
                    future = pool.submit(self._handle, held)
                    with self._lock:
                        self._held[future] = held
                    future.add_done_callback(self._forget)
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
        # Out of time: what has not started goes back at once; running handlers finish.
        self._give_back_unstarted()
        wait_for(self._in_flight())
        return done()

    def _in_flight(self) -> set[Future[None]]:
        with self._lock:
            return set(self._held)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._held.pop(future, None)

    def _give_back_unstarted(self) -> None:
        """Cancel the handlers not started yet and make their messages visible again now."""
        with self._lock:
            held = list(self._held.items())
        for future, message in held:
            if future.cancel():
                self.messages.settle(message, lambda h: self.messages.release(h, 0))

    def _stop(self, pool: ThreadPoolExecutor, grace_s: float) -> None:
        """After Ctrl-C: give back what has not started, wait `grace_s` for the rest."""
        self._give_back_unstarted()
        pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C stops the wait
            wait_for(self._in_flight(), timeout=grace_s)
        running = self._in_flight()
        with self._lock:
            self.stats.abandoned += len(running)
        if running:
            log.info("%d handlers abandoned; their messages reappear shortly", len(running))

    def _renew(self, stop: threading.Event) -> None:
        """Renew the lease of every held message until `stop` is set (a daemon thread)."""
        while not stop.wait(self.renew_every_s):
            with self._lock:
                held = list(self._held.values())
            for message in held:
                if stop.is_set():
                    return
                self.messages.settle(message, self.messages.extend, renewal=True)

    def _handle(self, held: Held) -> None:
        """Run one message's handler and settle it; a failed settle leaves it to reappear."""
        stage, message = held.stage, held.message
        delivery = Delivery(
            message.dequeue_count or 1, self.max_dequeue_count, enqueued_at=message.inserted_on
        )
        try:
            handle_message(self.ctx, stage, message.content, delivery)
        except Exception as error:
            with self._lock:
                self.stats.failed[stage] += 1
            if not delivery.final:
                self.messages.settle(held, lambda h: self.messages.release(h, self.retry_delay_s))
            elif self.messages.settle(held, self.messages.poison):
                log.warning("%s message moved to the poison queue: %s", stage, error)
                handle_poison(self.ctx, stage, message.content)
            return
        if self.messages.settle(held, self.messages.delete):
            with self._lock:
                self.stats.handled[stage] += 1
