"""Credly webhook events: confirm each at Credly, refresh the badge it names, recompose its people.

A notification is only a hint. The worker reads the event from Credly with the connector's
own credentials, and the badge it names too, so nothing in the posted body decides what is
written: a forged, replayed or late notification changes nothing that Credly does not say.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

from credly_connector.credly.errors import CredlyNotFoundError
from credly_connector.errors import BadDataError
from credly_connector.graph.pacing import urgent_writes
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.pending import remember_pending
from credly_connector.pipeline.recompose import Recomposed, recompose_emails
from credly_connector.pipeline.refresh import (
    apply_refresh,
    plan_refresh,
    read_current,
    stored_rows,
)
from credly_connector.rules.dates import parse_timestamp
from credly_connector.stores.events import EventRecord, EventStatus, EventStore

log = logging.getLogger(__name__)

# Privacy changes are handled too: a badge made private must leave the profile at once.
BADGE_EVENTS = frozenset(
    {"badge.created", "badge.state.changed", "badge.deleted", "badge.privacy.changed"}
)
"""The event types that refresh a badge; Credly's other events are acknowledged and ignored."""
EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""Event and badge ids become URL path segments and table keys: a safe alphabet only."""

# What handling an event found (EventOutcome.outcome, the record's outcome, the logs).
UNCONFIGURED = "unconfigured_organization"
UNCONFIRMED = "unconfirmed"
IGNORED_TYPE = "ignored_type"
NO_BADGE = "no_badge"
STALE = "stale"
UNCHANGED = "unchanged"
APPLIED = "applied"


@dataclass(frozen=True)
class EventMessage:
    """A received notification on the events queue; only its ids are ever acted on.

    Attributes:
        event_id: The event to fetch from Credly.
        organization_id: The configured organisation it was posted for.
        event_type: The type the notification claimed (for logs only).
        occurred_at: When it claimed the event happened (for logs only).
        received_at: When the webhook route accepted it (UTC ISO), for latency telemetry.
    """

    event_id: str
    organization_id: str
    event_type: str = ""
    occurred_at: str = ""
    received_at: str = ""


@dataclass(frozen=True)
class ConfirmedEvent:
    """An event as Credly describes it."""

    id: str
    event_type: str
    badge_id: str | None


@dataclass(frozen=True)
class EventOutcome:
    """What handling one event did.

    Attributes:
        outcome: One of the outcome names of this module, e.g. `applied` or `unconfirmed`.
        emails: Recipients recomposed.
        recomposed: What recomposing wrote, when it ran.
    """

    outcome: str
    event_id: str
    badge_id: str = ""
    emails: tuple[str, ...] = ()
    recomposed: Recomposed | None = None


def encode_event(message: EventMessage) -> str:
    """The queue message body (JSON text; the queue client base64-encodes it)."""
    return json.dumps(asdict(message), separators=(",", ":"), ensure_ascii=False)


def decode_event(body: str | bytes) -> EventMessage:
    """Parse an events queue message, refusing anything malformed.

    Raises:
        BadDataError: Not a JSON object with string ids of the safe alphabet.
    """
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadDataError("invalid_message", f"event message is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise BadDataError("invalid_message", "event message is not a JSON object")
    event_id, organization_id = raw.get("event_id"), raw.get("organization_id")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        raise BadDataError("invalid_message", "event message lacks a valid event_id")
    if not isinstance(organization_id, str) or not organization_id:
        raise BadDataError("invalid_message", "event message lacks an organization_id")
    return EventMessage(
        event_id,
        organization_id,
        **{k: str(raw.get(k) or "") for k in ("event_type", "occurred_at", "received_at")},
    )


def configured_organization(ctx: CrawlContext, organization_id: str) -> str | None:
    """The configured spelling of an organisation id (GUIDs compare ignoring case)."""
    wanted = organization_id.strip().lower()
    return next((o for o in ctx.options.organizations if o.lower() == wanted), None)


def confirm_event(data: dict[str, Any], event_id: str, organization_id: str) -> ConfirmedEvent:
    """The event Credly answered, checked against the one asked for.

    Raises:
        BadDataError: The answer is about another event or organisation, or lacks a type.
    """
    if data.get("id", event_id) != event_id:
        raise BadDataError(UNCONFIRMED, f"Credly answered event {data.get('id')!r}")
    owner = data.get("organization_id", organization_id)
    if not isinstance(owner, str) or owner.lower() != organization_id.lower():
        raise BadDataError(UNCONFIRMED, f"event {event_id} belongs to organisation {owner!r}")
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise BadDataError(UNCONFIRMED, f"event {event_id} has no event_type")
    badge = data.get("badge")
    badge_id = badge.get("id") if isinstance(badge, dict) else data.get("badge_id")
    if not isinstance(badge_id, str) or not EVENT_ID.fullmatch(badge_id):
        badge_id = None
    return ConfirmedEvent(event_id, event_type, badge_id)


def handle_event(ctx: CrawlContext, message: EventMessage, delivery: Delivery) -> EventOutcome:
    """Confirm the event at Credly, refresh the badge it names, recompose the people touched.

    Idempotent: a replayed event re-reads the same badge, finds the store current and
    writes nothing. A redelivery after a failure part-way still recomposes every recipient
    the first attempt changed (they were recorded before any badge row changed).

    Raises:
        ConnectorError: Credly or Graph failed; the queue delivers the message again.
    """
    extra = {"event_id": message.event_id, "dequeue_count": delivery.dequeue_count}
    organization = configured_organization(ctx, message.organization_id)
    if organization is None:
        log.warning("event of unconfigured organisation %s dropped", message.organization_id)
        return EventOutcome(UNCONFIGURED, message.event_id)
    try:
        data = ctx.credly_for(organization).event(message.event_id)
        event = confirm_event(data, message.event_id, organization)
    except (CredlyNotFoundError, BadDataError) as error:
        log.warning("notification of event %s not confirmed by Credly: %s", message.event_id, error)
        return EventOutcome(UNCONFIRMED, message.event_id)
    events = EventStore(ctx.tables)
    previous = events.get(organization, event.id)
    record = EventRecord(
        organization, event.id, EventStatus.DONE, event.event_type, event.badge_id or ""
    )
    if event.event_type not in BADGE_EVENTS or event.badge_id is None:
        outcome = IGNORED_TYPE if event.event_type not in BADGE_EVENTS else NO_BADGE
        log.info("event %s (%s) ignored: %s", event.id, event.event_type, outcome, extra=extra)
        if previous is None:
            events.put(_stamped(ctx, record, status=EventStatus.IGNORED, outcome=outcome))
        return EventOutcome(outcome, event.id, event.badge_id or "")
    carried = (
        previous.emails
        if previous and previous.status in (EventStatus.PENDING, EventStatus.FAILED)
        else ()
    )
    plan = plan_refresh(
        stored_rows(ctx, organization, event.badge_id),
        read_current(ctx, organization, event.badge_id),
    )
    emails = tuple(sorted(plan.emails | set(carried)))
    if not emails:
        outcome = STALE if plan.stale else UNCHANGED
        log.info("event %s: badge %s %s", event.id, event.badge_id, outcome, extra=extra)
        if previous is None:
            events.put(_stamped(ctx, record, outcome=outcome))
        return EventOutcome(outcome, event.id, event.badge_id)
    # Remember who is touched before any row changes, so a retry after a crash recomposes them.
    events.put(_stamped(ctx, record, status=EventStatus.PENDING, outcome=APPLIED, emails=emails))
    apply_refresh(ctx, plan)
    # A webhook's writes go ahead of a crawl's claimed permits in the connection's budget.
    with urgent_writes():
        recomposed = recompose_emails(ctx, emails, origin=f"event:{event.id}")
    counts = {k: v for k, v in recomposed.to_json().items() if isinstance(v, int)}
    events.put(_stamped(ctx, record, outcome=APPLIED, counts=counts))
    log.info(
        "event %s (%s): badge %s refreshed, %d people written, %d deleted, %s after receipt",
        event.id,
        event.event_type,
        event.badge_id,
        len(recomposed.written),
        len(recomposed.deleted),
        _since(ctx, message.received_at),
        extra=extra,
    )
    return EventOutcome(APPLIED, event.id, event.badge_id, emails, recomposed)


def handle_event_poison(ctx: CrawlContext, message: EventMessage) -> None:
    """An event exhausted its deliveries: mark its record failed (the next crawl reconciles)."""
    log.error(
        "event %s of organisation %s failed on every delivery; the next crawl reconciles it",
        message.event_id,
        message.organization_id,
    )
    organization = configured_organization(ctx, message.organization_id)
    if organization is None:
        return
    events = EventStore(ctx.tables)
    previous = events.get(organization, message.event_id)
    if previous is not None and previous.status == EventStatus.PENDING:
        # Its rows may have changed already: the next crawl must recompose these people.
        remember_pending(ctx, organization, previous.emails)
        events.put(_stamped(ctx, previous, status=EventStatus.FAILED))


def _stamped(ctx: CrawlContext, record: EventRecord, **changes: Any) -> EventRecord:
    values = {**asdict(record), **changes, "updated_at": ctx.clock()}
    values["emails"] = tuple(values["emails"])
    return EventRecord(**values)


def _since(ctx: CrawlContext, received_at: str) -> str:
    received = parse_timestamp(received_at)
    if received is None:
        return "unknown time"
    return f"{(ctx.clock() - received).total_seconds():.2f} s"
