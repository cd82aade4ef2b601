"""What the webhook dispatcher reports: delivery states, logged attempts, counters, pass reports."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryState(StrEnum):
    """Where one delivery (one copy of one event's notification) stands."""

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
        org_id: Its organisation.
        copy: Which copy (1-based; above 1 only when the dispatcher sends duplicates).
        attempt: Which attempt of this copy (1-based).
        url: Where it was sent.
        status: The receiver's HTTP status; None when there was no answer.
        error: Why there was no answer (timeout, refused connection...); None otherwise.
        delivered: Whether the answer ended the delivery (a success status).
        at: The dispatcher's clock when the attempt started.
        duration_s: How long the attempt took.
    """

    event_id: str
    org_id: str
    copy: int
    attempt: int
    url: str
    status: int | None
    error: str | None
    delivered: bool
    at: float
    duration_s: float


@dataclass(frozen=True)
class WebhookCounters:
    """Running totals of a dispatcher (they never drop, unlike the bounded log).

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


@dataclass(frozen=True)
class DeliveryReport:
    """What one `deliver_pending()` or `drain()` call did; `pending` is what is left after.

    Attributes:
        attempts: The attempts made, in order.
        delivered: Deliveries completed.
        failed_attempts: Attempts that failed.
        gave_up: Deliveries given up.
        dropped: Deliveries dropped.
        pending: Deliveries still pending afterwards.
    """

    attempts: tuple[DeliveryAttempt, ...]
    delivered: int
    failed_attempts: int
    gave_up: int
    dropped: int
    pending: int

    @staticmethod
    def between(
        before: WebhookCounters, after: WebhookCounters, attempts: list[DeliveryAttempt]
    ) -> DeliveryReport:
        """The report of the work done between two counter readings."""
        return DeliveryReport(
            attempts=tuple(attempts),
            delivered=after.delivered - before.delivered,
            failed_attempts=after.failed_attempts - before.failed_attempts,
            gave_up=after.gave_up - before.gave_up,
            dropped=after.dropped - before.dropped,
            pending=after.pending,
        )
