"""The Credly stand-in's webhook dispatcher: POSTs recorded events to loopback receivers."""

from __future__ import annotations

import http.client
import json
import random
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Self
from urllib.parse import SplitResult

from devstack.credly.records import CredlyData, Event
from devstack.credly.webhook_log import (
    DeliveryAttempt,
    DeliveryReport,
    DeliveryState,
    WebhookCounters,
)
from devstack.credly.webhook_rules import (
    CREDLY_RETRY_POLICY,
    WebhookRetryPolicy,
    WebhookTargetError,
    check_webhook_url,
    delivery_order,
    notification_payload,
)
from devstack.credly.webhook_sender import WebhookSender
from devstack.lifecycle import Service

__all__ = [
    "CREDLY_RETRY_POLICY",
    "DEFAULT_RETRY_POLICY",
    "DeliveryAttempt",
    "DeliveryReport",
    "DeliveryState",
    "WebhookCounters",
    "WebhookDispatcher",
    "WebhookRetryPolicy",
    "WebhookTargetError",
    "check_webhook_url",
    "notification_payload",
]

DEFAULT_RETRY_POLICY = WebhookRetryPolicy()


@dataclass(slots=True)
class _Delivery:
    event_id: str
    org_id: str
    copy: int
    order: tuple[datetime, int, int]
    body: bytes
    state: DeliveryState
    due_at: float
    attempts: int = 0


class WebhookDispatcher(Service):
    """Delivers every event of a `CredlyData` store to its organisation's `webhook_url`.

    Where Credly's docs are silent, the stand-in decides:

    - An event is sent only if its organisation has a `webhook_url` when the dispatcher first
      sees it (at the pass after it was recorded); otherwise it is dropped for good, as
      Credly sends only while configured. A URL removed later drops the pending deliveries.
    - Attempts go to the URL configured at the time; only loopback HTTP(S) URLs are allowed,
      others raise `WebhookTargetError` before anything of that pass is sent.
    - First attempts follow `occurred_at` (then recording order) per organisation; a retried
      delivery is not waited for, so later events may overtake it, as with a real queue.
    - Deliveries are sent one at a time, each over a fresh connection, with no signature
      or extra headers (none is documented).

    Run it one pass at a time with `deliver_pending()` (or `drain()`), or in a background
    thread with `start()`/`stop()` or as a context manager.

    Args:
        data: The store whose `events` are delivered.
        policy: Retries and the response timeout.
        copies: How many times each event is delivered (2 mimics at-least-once duplicates).
        shuffle: Send each pass's due deliveries in a seeded random order instead.
        seed: Seeds the shuffle.
        clock: Monotonic seconds, for due times and the log.
        sleep: How `drain()` waits between passes.
        poll_interval_s: How often the background thread looks for new events.
        ssl_context: Trust for `https://` receivers (default: the system's).
        max_log_entries: Bound of the delivery log (counters keep counting past it).
    """

    def __init__(
        self,
        data: CredlyData,
        *,
        policy: WebhookRetryPolicy = DEFAULT_RETRY_POLICY,
        copies: int = 1,
        shuffle: bool = False,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval_s: float = 0.02,
        ssl_context: ssl.SSLContext | None = None,
        max_log_entries: int = 100_000,
    ) -> None:
        """A dispatcher that has seen no event yet; `start()` runs it in the background."""
        if copies < 1:
            raise ValueError("copies must be >= 1")
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be > 0")
        self.data = data
        self.policy = policy
        self.copies = copies
        self.shuffle = shuffle
        self._rng = random.Random(seed)
        self._clock = clock
        self._sleep = sleep
        self._poll_interval_s = poll_interval_s
        self._sender = WebhookSender(ssl_context)
        self._seen: set[str] = set()
        self._scanned: tuple[int, int] | None = None
        self._deliveries: dict[tuple[str, int], _Delivery] = {}
        self._pending: dict[tuple[str, int], _Delivery] = {}
        self._log: deque[DeliveryAttempt] = deque(maxlen=max_log_entries)
        self._delivered = self._failed_attempts = self._gave_up = self._dropped = 0
        self._state_lock = threading.Lock()
        self._pass_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None

    # -- reading ---------------------------------------------------------------------------

    @property
    def counters(self) -> WebhookCounters:
        """Totals so far (as of the last pass)."""
        with self._state_lock:
            return WebhookCounters(
                delivered=self._delivered,
                failed_attempts=self._failed_attempts,
                gave_up=self._gave_up,
                dropped=self._dropped,
                pending=len(self._pending),
            )

    def delivery_log(self) -> list[DeliveryAttempt]:
        """Every attempt so far (up to the log's bound), oldest first."""
        with self._state_lock:
            return list(self._log)

    def state(self, event_id: str, copy: int = 1) -> DeliveryState | None:
        """Where a delivery stands; None for an event no pass has seen yet."""
        with self._state_lock:
            delivery = self._deliveries.get((event_id, copy))
            return None if delivery is None else delivery.state

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def error(self) -> Exception | None:
        """What ended the background thread early, if anything (`stop()` raises it too)."""
        return self._error

    # -- passes ----------------------------------------------------------------------------

    def deliver_pending(self) -> DeliveryReport:
        """One pass: pick up new events, then attempt every due delivery once.

        Returns:
            What this pass did.

        Raises:
            WebhookTargetError: A due delivery's organisation has a non-loopback
                `webhook_url`; nothing of this pass was sent.
        """
        with self._pass_lock:
            before = self.counters
            self._discover()
            attempts = []
            for delivery, target in self._plan():
                if self._stopping.is_set():
                    break
                if target is None:
                    self._settle(delivery, DeliveryState.DROPPED)
                    continue
                attempt = self._attempt(delivery, target)
                if attempt is not None:
                    attempts.append(attempt)
            return DeliveryReport.between(before, self.counters, attempts)

    def drain(self, timeout_s: float = 5.0) -> DeliveryReport:
        """Pass after pass, sleeping until the next due time, until nothing is pending.

        Args:
            timeout_s: Give up waiting after this long (by the dispatcher's clock, which the
                injected `sleep` must advance).

        Returns:
            What all passes did; `pending` above 0 means the time ran out.
        """
        deadline = self._clock() + timeout_s
        before = self.counters
        attempts: list[DeliveryAttempt] = []
        while True:
            report = self.deliver_pending()
            attempts.extend(report.attempts)
            now = self._clock()
            next_due = self._next_due()
            if next_due is None or now >= deadline:
                break
            self._sleep(max(0.0, min(next_due, deadline) - now))
        return DeliveryReport.between(before, self.counters, attempts)

    # -- background thread -----------------------------------------------------------------

    def start(self) -> Self:
        """Deliver in a daemon thread until `stop()`."""
        if self._thread is not None:
            return self
        self._stopping.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="credly-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, aborting an attempt in flight (it stays due, unrecorded).

        Raises:
            RuntimeError: The thread did not stop in time.
            WebhookTargetError: The thread stopped early on a non-loopback `webhook_url`
                (any other error that ended it is raised too).
        """
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._sender.abort()
        thread.join(timeout=self.policy.response_timeout_s + 5.0)
        if thread.is_alive():
            raise RuntimeError("the webhook dispatcher thread did not stop")
        self._thread = None
        self._stopping.clear()
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self.deliver_pending()
                wait = self._poll_interval_s
                next_due = self._next_due()
                if next_due is not None:
                    wait = min(wait, max(0.0, next_due - self._clock()))
                self._stopping.wait(wait)
        except Exception as exc:  # kept for stop() to raise: a thread must not die silently
            self._error = exc

    # -- internals -------------------------------------------------------------------------

    def _discover(self) -> None:
        """Turn events no pass has seen into deliveries (dropped when no URL is set)."""
        data = self.data
        with data.lock:
            mark = (data.version, len(data.events))
            if mark == self._scanned:
                return
            self._scanned = mark
            fresh = [event for event in data.events.values() if event.id not in self._seen]
            configured = {org.id for org in data.orgs.values() if org.webhook_url}
        now = self._clock()
        with self._state_lock:
            for event in fresh:
                self._seen.add(event.id)
                self._add_copies(event, event.org_id in configured, now)

    def _add_copies(self, event: Event, configured: bool, now: float) -> None:
        body = json.dumps(notification_payload(event)).encode("utf-8")
        state = DeliveryState.PENDING if configured else DeliveryState.DROPPED
        seq = len(self._seen)
        for copy in range(1, self.copies + 1):
            order = (delivery_order(event), seq, copy)
            delivery = _Delivery(event.id, event.org_id, copy, order, body, state, now)
            self._deliveries[(event.id, copy)] = delivery
            if configured:
                self._pending[(event.id, copy)] = delivery
            else:
                self._dropped += 1

    def _plan(self) -> list[tuple[_Delivery, SplitResult | None]]:
        """The due deliveries in sending order, with their checked targets (None: no URL)."""
        now = self._clock()
        with self._state_lock:
            due = sorted(
                (d for d in self._pending.values() if d.due_at <= now), key=lambda d: d.order
            )
        if self.shuffle:
            self._rng.shuffle(due)
        with self.data.lock:
            urls = {org.id: org.webhook_url for org in self.data.orgs.values()}
        plan: list[tuple[_Delivery, SplitResult | None]] = []
        for delivery in due:
            url = urls.get(delivery.org_id)
            plan.append((delivery, check_webhook_url(url) if url else None))
        return plan

    def _attempt(self, delivery: _Delivery, target: SplitResult) -> DeliveryAttempt | None:
        """POST once and record the outcome; None when `stop()` aborted the attempt."""
        started = self._clock()
        status: int | None = None
        error: str | None = None
        try:
            status = self._sender.post(target, delivery.body, self.policy.response_timeout_s)
        except (OSError, http.client.HTTPException) as exc:
            if self._stopping.is_set():
                return None
            if isinstance(exc, TimeoutError):
                error = f"no answer within {self.policy.response_timeout_s} s"
            else:
                error = f"{type(exc).__name__}: {exc}"
        finished = self._clock()
        delivered = status in self.policy.success_statuses
        with self._state_lock:
            delivery.attempts += 1
            record = DeliveryAttempt(
                event_id=delivery.event_id,
                org_id=delivery.org_id,
                copy=delivery.copy,
                attempt=delivery.attempts,
                url=target.geturl(),
                status=status,
                error=error,
                delivered=delivered,
                at=started,
                duration_s=finished - started,
            )
            self._log.append(record)
            if delivered:
                self._settle_locked(delivery, DeliveryState.DELIVERED)
                return record
            self._failed_attempts += 1
            if delivery.attempts >= self.policy.max_attempts:
                self._settle_locked(delivery, DeliveryState.GAVE_UP)
            else:
                delivery.due_at = finished + self.policy.delay_after(delivery.attempts)
        return record

    def _settle(self, delivery: _Delivery, state: DeliveryState) -> None:
        with self._state_lock:
            self._settle_locked(delivery, state)

    def _settle_locked(self, delivery: _Delivery, state: DeliveryState) -> None:
        delivery.state = state
        self._pending.pop((delivery.event_id, delivery.copy), None)
        if state is DeliveryState.DELIVERED:
            self._delivered += 1
        elif state is DeliveryState.GAVE_UP:
            self._gave_up += 1
        else:
            self._dropped += 1

    def _next_due(self) -> float | None:
        with self._state_lock:
            return min((d.due_at for d in self._pending.values()), default=None)
