"""The Credly webhook receiver: check the thin notification, queue it, answer 200 at once.

Credly waits only briefly for the answer and retries anything but a 200 for days, so nothing
slow happens here: the notification is checked for shape and organisation, put on the
events queue, and the queue worker (`pipeline.events`) does the rest with its own reads.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from credly_connector.ops.answers import Answer, problem
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.events import (
    EVENT_ID,
    EventMessage,
    configured_organization,
    encode_event,
)
from credly_connector.pipeline.queues import EVENTS
from credly_connector.rules.dates import parse_timestamp
from credly_connector.stores.tables import to_iso

MAX_NOTIFICATION_BYTES = 1024 * 1024
"""Credly's notification is a few hundred bytes; anything over a megabyte is refused."""
MAX_FIELD_LENGTH = 128
FIELDS = ("id", "organization_id", "event_type", "occurred_at")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    """Credly's thin webhook notification, checked for shape only (nothing in it is trusted)."""

    id: str
    organization_id: str
    event_type: str
    occurred_at: str


def parse_notification(body: bytes) -> Notification | Answer:
    """The notification in a request body, or the 4xx answer saying what is wrong with it.

    Unknown fields are ignored: Credly may add attributes at any time, and refusing them
    would make it retry the delivery for weeks.
    """
    if len(body) > MAX_NOTIFICATION_BYTES:
        return problem(413, f"The notification is larger than {MAX_NOTIFICATION_BYTES} bytes.")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return problem(400, f"The notification is not valid JSON: {exc}")
    except RecursionError:
        return problem(400, "The notification is not valid JSON: it is nested too deeply.")
    if not isinstance(value, dict):
        return problem(400, "The notification must be a JSON object.")
    wrong = _field_problem(value)
    if wrong:
        return problem(400, wrong, required=list(FIELDS))
    return Notification(*(str(value[name]) for name in FIELDS))


def _field_problem(value: dict[str, object]) -> str | None:
    """What is wrong with the notification's fields, if anything."""
    missing = [name for name in FIELDS if name not in value]
    if missing:
        return f"The notification lacks {', '.join(missing)}."
    wrong = [
        name
        for name in FIELDS
        if not isinstance(value[name], str) or not 0 < len(str(value[name])) <= MAX_FIELD_LENGTH
    ]
    if wrong:
        return (
            f"{', '.join(wrong)} must be non-empty strings of at most {MAX_FIELD_LENGTH} "
            "characters."
        )
    if not EVENT_ID.fullmatch(str(value["id"])):
        return "id may only hold letters, digits and . _ : -"
    # The claimed type is logged by the worker: a line break in it could forge log lines.
    if not EVENT_ID.fullmatch(str(value["event_type"])):
        return "event_type may only hold letters, digits and . _ : -"
    if parse_timestamp(value["occurred_at"]) is None:
        return "occurred_at must be an ISO-8601 timestamp."
    return None


def receive_event(ctx: CrawlContext, body: bytes) -> Answer:
    """`POST credly/events`: queue a Credly notification for the worker; 200 when queued.

    Returns:
        200 once queued; 200 with status `ignored` when the organisation is not one this
        connector reads (nothing is queued: Credly retries anything but a 200 for up to 25
        days, and no retry can make the organisation configured); 400/413 for a malformed body.
    """
    parsed = parse_notification(body)
    if isinstance(parsed, Answer):
        return parsed
    organization = configured_organization(ctx, parsed.organization_id)
    if organization is None:
        # A warning, not info: a subscription for an organisation we do not read is an
        # administrator's loose end (an old webhook URL, or a missing CREDLY_ORGANIZATIONS entry).
        log.warning(
            # %r: the organisation id is not checked for shape, and a line break could forge
            # log lines.
            "webhook event %s ignored: organisation %r is not configured",
            parsed.id,
            parsed.organization_id,
            extra={"event_id": parsed.id, "outcome": "ignored"},
        )
        return Answer(
            200,
            {
                "status": "ignored",
                "id": parsed.id,
                "reason": f"organisation {parsed.organization_id!r} is not configured",
            },
        )
    message = EventMessage(
        event_id=parsed.id,
        organization_id=organization,
        event_type=parsed.event_type,
        occurred_at=parsed.occurred_at,
        received_at=to_iso(ctx.clock()),
    )
    ctx.queues.send_text(EVENTS, encode_event(message))
    return Answer(200, {"status": "queued", "id": parsed.id})
