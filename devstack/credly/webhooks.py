"""The Credly stand-in's webhook dispatcher: POSTs recorded events to loopback receivers."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Self
from urllib.parse import SplitResult

from devstack.credly.records import CredlyData
from devstack.credly.render import utc
from devstack.credly.webhook_rules import (
    WebhookRetryPolicy,
    check_webhook_url,
    notification_payload,
)
from devstack.lifecycle import Service

__all__ = ["DeliveryAttempt", "DeliveryState", "WebhookDispatcher", "notification_payload"]

MAX_ANSWER_BYTES = 64 * 1024
"""Bytes of a receiver's answer read before closing (Credly looks at the status only)."""
MAX_LOG_ENTRIES = 100_000
"""Bound of the delivery log (the counters keep counting past it)."""


class DeliveryState(StrEnum):
    """Where one delivery (one event's notification) stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"
    """Every attempt the policy allows failed."""
    DROPPED = "dropped"
    """The organisation had no `webhook_url` when the event was seen or when it was due."""


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a notification, as the delivery log keeps it.

    Attributes:
        event_id: The event notified.
        attempt: Which attempt of this delivery (1-based).
        status: The receiver's HTTP status; None when there was no answer.
        error: Why there was no answer (timeout, refused connection...); None otherwise.
        delivered: Whether the answer ended the delivery (a success status).
        at: The dispatcher's clock when the attempt started.
        duration_s: How long the attempt took.
    """

    event_id: str
    attempt: int
    status: int | None
    error: str | None
    delivered: bool
    at: float
    duration_s: float


@dataclass(frozen=True)
class WebhookCounters:
    """Running totals of a dispatcher.

    Attributes:
        delivered: Deliveries answered with a success status.
        failed_attempts: Attempts answered otherwise or not at all.
        gave_up: Deliveries abandoned after the policy's last attempt.
        dropped: Deliveries never sent or abandoned because no `webhook_url` was set.
        pending: Deliveries still to be attempted (now or after a backoff).
    """

    delivered: int
    failed_attempts: int
    gave_up: int
    dropped: int
    pending: int


@dataclass(slots=True)
class _Delivery:
    event_id: str
    org_id: str
    order: tuple[datetime, int]
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
    - Deliveries are sent one at a time, each over a fresh connection (`http.client`, so no
      proxy setting can send one off this machine), with no signature or extra headers (none
      is documented).

    Run it one pass at a time with `deliver_pending()`, or in a background
    thread with `start()`/`stop()` or as a context manager.

    Args:
        data: The store whose `events` are delivered.
        policy: Retries and the response timeout.
        clock: Monotonic seconds, for due times and the log.
        poll_interval_s: How often the background thread looks for new events.
    """

    def __init__(
        self,
        data: CredlyData,
        *,
        policy: WebhookRetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = 0.02,
    ) -> None:
        """A dispatcher that has seen no event yet; `start()` runs it in the background."""
        self.data = data
        self.policy = policy or WebhookRetryPolicy()
        self._clock = clock
        self._poll_interval_s = poll_interval_s
        self._scanned: tuple[int, int] | None = None
        self._deliveries: dict[str, _Delivery] = {}
        self._pending: dict[str, _Delivery] = {}
        self._log: deque[DeliveryAttempt] = deque(maxlen=MAX_LOG_ENTRIES)
        self._active: http.client.HTTPConnection | None = None
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
            states = Counter(d.state for d in self._deliveries.values())
            attempts = sum(d.attempts for d in self._deliveries.values())
        return WebhookCounters(
            delivered=states[DeliveryState.DELIVERED],
            failed_attempts=attempts - states[DeliveryState.DELIVERED],
            gave_up=states[DeliveryState.GAVE_UP],
            dropped=states[DeliveryState.DROPPED],
            pending=states[DeliveryState.PENDING],
        )

    def delivery_log(self) -> list[DeliveryAttempt]:
        """Every attempt so far (up to `MAX_LOG_ENTRIES`), oldest first."""
        with self._state_lock:
            return list(self._log)

    def state(self, event_id: str) -> DeliveryState | None:
        """Where a delivery stands; None for an event no pass has seen yet."""
        with self._state_lock:
            delivery = self._deliveries.get(event_id)
            return None if delivery is None else delivery.state

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- passes ----------------------------------------------------------------------------

    def deliver_pending(self) -> list[DeliveryAttempt]:
        """One pass: pick up new events, then attempt every due delivery once.

        Returns:
            The attempts made, in order (`counters` tells what they achieved).

        Raises:
            WebhookTargetError: A due delivery's organisation has a non-loopback
                `webhook_url`; nothing of this pass was sent.
        """
        with self._pass_lock:
            self._discover()
            attempts = []
            for delivery, target in self._plan():
                if self._stopping.is_set():
                    break
                if target is None:
                    with self._state_lock:
                        self._settle(delivery, DeliveryState.DROPPED)
                    continue
                attempt = self._attempt(delivery, target)
                if attempt is not None:
                    attempts.append(attempt)
            return attempts

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
        with self._state_lock:
            sock = self._active.sock if self._active is not None else None
        if sock is not None:  # cut the POST in flight so the thread returns at once
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
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
            fresh = [event for event in data.events.values() if event.id not in self._deliveries]
            configured = {org.id for org in data.orgs.values() if org.webhook_url}
        now = self._clock()
        with self._state_lock:
            for event in fresh:
                delivery = _Delivery(
                    event.id,
                    event.org_id,
                    (utc(event.occurred_at), len(self._deliveries)),
                    json.dumps(notification_payload(event)).encode("utf-8"),
                    DeliveryState.PENDING,
                    now,
                )
                self._deliveries[event.id] = delivery
                if event.org_id in configured:
                    self._pending[event.id] = delivery
                else:
                    self._settle(delivery, DeliveryState.DROPPED)

    def _plan(self) -> list[tuple[_Delivery, SplitResult | None]]:
        """The due deliveries in sending order, with their checked targets (None: no URL)."""
        now = self._clock()
        with self._state_lock:
            due = sorted(
                (d for d in self._pending.values() if d.due_at <= now), key=lambda d: d.order
            )
        with self.data.lock:
            urls = {org.id: org.webhook_url for org in self.data.orgs.values()}
        return [(d, check_webhook_url(url) if (url := urls.get(d.org_id)) else None) for d in due]

    def _attempt(self, delivery: _Delivery, target: SplitResult) -> DeliveryAttempt | None:
        """POST once and record the outcome; None when `stop()` aborted the attempt."""
        started = self._clock()
        status: int | None = None
        error: str | None = None
        try:
            status = self._post(target, delivery.body)
        except (OSError, http.client.HTTPException) as exc:
            if self._stopping.is_set():
                return None
            if isinstance(exc, TimeoutError):
                error = f"no answer within {self.policy.response_timeout_s} s"
            else:
                error = f"{type(exc).__name__}: {exc}"
        finished = self._clock()
        delivered = status == 200  # the only success Credly documents
        with self._state_lock:
            delivery.attempts += 1
            record = DeliveryAttempt(
                delivery.event_id,
                delivery.attempts,
                status,
                error,
                delivered,
                at=started,
                duration_s=finished - started,
            )
            self._log.append(record)
            if delivered:
                self._settle(delivery, DeliveryState.DELIVERED)
                return record
            if delivery.attempts >= self.policy.max_attempts:
                self._settle(delivery, DeliveryState.GAVE_UP)
            else:
                delivery.due_at = finished + self.policy.delay_after(delivery.attempts)
        return record

    def _post(self, target: SplitResult, body: bytes) -> int:
        """POST the JSON body and return the receiver's status (its body is read and ignored).

        Raises:
            TimeoutError: No answer within the policy's response timeout.
            OSError: Connection refused, reset, or cut by `stop()`.
            http.client.HTTPException: The answer was not valid HTTP.
        """
        timeout = self.policy.response_timeout_s
        connection = (
            http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        )
        conn = connection(target.hostname or "", target.port, timeout=timeout)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        with self._state_lock:
            self._active = conn
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            answer = conn.getresponse()
            answer.read(MAX_ANSWER_BYTES)
            return answer.status
        finally:
            with self._state_lock:
                self._active = None
            conn.close()

    def _settle(self, delivery: _Delivery, state: DeliveryState) -> None:
        """End a delivery (the caller holds the state lock)."""
        delivery.state = state
        self._pending.pop(delivery.event_id, None)

    def _next_due(self) -> float | None:
        with self._state_lock:
            return min((d.due_at for d in self._pending.values()), default=None)
