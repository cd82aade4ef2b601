"""One entry point per stage, shared by the Functions bindings and the local dispatcher."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from credly_connector import telemetry
from credly_connector.errors import BadDataError
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.events import decode_event, handle_event, handle_event_poison
from credly_connector.pipeline.finish import handle_finish
from credly_connector.pipeline.messages import (
    FINISH,
    PAGES,
    PLAN,
    PROFILES,
    START,
    FinishMessage,
    PageMessage,
    PlanMessage,
    ProfileMessage,
    StartMessage,
    decode,
)
from credly_connector.pipeline.pages import handle_page
from credly_connector.pipeline.plan import handle_plan
from credly_connector.pipeline.profiles import handle_profiles
from credly_connector.pipeline.queues import EVENTS
from credly_connector.pipeline.start import handle_start

log = logging.getLogger(__name__)
WEBHOOK = "webhook"
"""The telemetry stage of the events queue's handler (the webhook's second half)."""

_ROUTES: dict[str, tuple[type[Any], Callable[[CrawlContext, Any, Delivery], None]]] = {
    START: (StartMessage, handle_start),
    PAGES: (PageMessage, handle_page),
    PLAN: (PlanMessage, handle_plan),
    PROFILES: (ProfileMessage, handle_profiles),
    FINISH: (FinishMessage, handle_finish),
}


def telemetry_stage(stage: str) -> str:
    """The `stage` label of a queue's messages: the crawl stage, or `webhook` for events."""
    return WEBHOOK if stage == EVENTS else stage


def age_s(enqueued_at: datetime) -> float:
    """Seconds since `enqueued_at` (a naive time is UTC, as the Functions binding may give it).

    The wall clock, not ctx.clock: the insertion time is the queue service's real time.
    """
    if enqueued_at.tzinfo is None:
        enqueued_at = enqueued_at.replace(tzinfo=UTC)
    return (datetime.now(UTC) - enqueued_at).total_seconds()


def handle_message(ctx: CrawlContext, stage: str, body: str | bytes, delivery: Delivery) -> None:
    """Decode a queue message of `stage` and run its handler.

    A malformed message is logged and dropped (retrying cannot fix it); handler errors
    propagate so the queue delivers the message again. The handler runs in a telemetry
    scope of its stage (the crawl's handlers add the organisation once they read the record).
    """
    label = telemetry_stage(stage)
    if delivery.enqueued_at is not None:
        telemetry.message_picked_up(label, ctx.queues.name(stage), age_s(delivery.enqueued_at))
    with telemetry.scope(stage=label):
        _handle(ctx, stage, body, delivery)


def _handle(ctx: CrawlContext, stage: str, body: str | bytes, delivery: Delivery) -> None:
    if stage == EVENTS:
        try:
            event = decode_event(body)
        except BadDataError as error:
            log.error("dropped a malformed %s message: %s", stage, error, extra={"stage": stage})
            return
        telemetry.annotate(organization_id=event.organization_id)
        handle_event(ctx, event, delivery)
        return
    kind, handler = _ROUTES[stage]
    try:
        message = decode(stage, body, kind)
    except BadDataError as error:
        log.error("dropped a malformed %s message: %s", stage, error, extra={"stage": stage})
        return
    telemetry.annotate(crawl_id=message.crawl_id)
    handler(ctx, message, delivery)


def handle_poison(ctx: CrawlContext, stage: str, body: str | bytes) -> None:
    """A message exhausted its deliveries: settle its step or crawl as failed.

    Normally the handler did so on the last delivery already; this is the backstop for
    failures that happened before it could (storage unreachable, a crash).
    """
    with telemetry.scope(stage=telemetry_stage(stage)):
        _handle_poison(ctx, stage, body)


def _handle_poison(ctx: CrawlContext, stage: str, body: str | bytes) -> None:
    if stage == EVENTS:
        try:
            handle_event_poison(ctx, decode_event(body))
        except Exception as error:  # logged; the next crawl reconciles the badge
            log.error("poison %s message: %s", stage, error)
        return
    kind, handler = _ROUTES[stage]
    try:
        message = decode(stage, body, kind)
    except BadDataError:
        return
    telemetry.annotate(crawl_id=message.crawl_id)
    try:
        handler(ctx, message, Delivery(dequeue_count=1, max_dequeue_count=1))
    except Exception as error:  # the step or crawl is settled as failed; nothing left to retry
        log.error("poison %s message for %s: %s", stage, message.crawl_id, error)
