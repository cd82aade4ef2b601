"""What a Credly webhook delivery is: the thin payload, the loopback-only rule, the retry policy."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from devstack.credly.records import Event
from devstack.credly.render import utc


class WebhookTargetError(ValueError):
    """An organisation's `webhook_url` is not a loopback HTTP(S) URL, so nothing is sent."""


@dataclass(frozen=True)
class WebhookRetryPolicy:
    """How deliveries are retried: exponential backoff, capped, for a bounded number of tries.

    Credly retries a delivery that is not answered with 200 "at progressively less frequent
    intervals up to 25 days" and waits only shortly for the answer; its exact schedule is
    not documented. The defaults are scaled down so tests settle in well under a second.

    Attributes:
        first_delay_s: Wait after the first failed attempt.
        factor: Each further wait is this many times the previous one.
        max_delay_s: Cap on any single wait.
        max_attempts: Attempts in all (the first included) before the delivery is given up.
        response_timeout_s: How long one attempt waits to connect and for each read of the
            answer; longer counts as no answer.
    """

    first_delay_s: float = 0.05
    factor: float = 2.0
    max_delay_s: float = 0.4
    max_attempts: int = 5
    response_timeout_s: float = 0.5

    def delay_after(self, attempt: int) -> float:
        """The wait before the next attempt once attempt number `attempt` (1-based) failed."""
        return float(min(self.max_delay_s, self.first_delay_s * self.factor ** (attempt - 1)))


def check_webhook_url(url: str) -> SplitResult:
    """Parse a webhook URL, refusing anything but HTTP(S) on a loopback host.

    The check reads the URL only (no name resolution), so a refused URL never causes traffic.

    Args:
        url: The organisation's `webhook_url`.

    Returns:
        The parsed URL.

    Raises:
        WebhookTargetError: For another scheme, a missing host, or a non-loopback host.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        raise WebhookTargetError(f"webhook_url {url!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetError(f"webhook_url {url!r} must be an http:// or https:// URL")
    if not host or not _is_loopback(host):
        raise WebhookTargetError(
            f"refusing to deliver Credly webhooks to {url!r}: the stand-in only sends to "
            "loopback hosts (127.0.0.1, localhost, ::1)"
        )
    return parts


def _is_loopback(host: str) -> bool:
    """Whether the host is `localhost` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def notification_payload(event: Event) -> dict[str, str]:
    """The thin notification Credly POSTs for an event (fetch the details by its id).

    `occurred_at` has whole seconds, as in the only payload seen (openedx/credentials' tests),
    while `GET .../events/{id}` renders milliseconds: receivers must read both forms.
    """
    return {
        "id": event.id,
        "organization_id": event.org_id,
        "event_type": event.event_type,
        "occurred_at": f"{utc(event.occurred_at):%Y-%m-%dT%H:%M:%SZ}",
    }
