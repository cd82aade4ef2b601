"""Credly's webhook: the notification route, and the queue trigger that acts on each event."""

from __future__ import annotations

import azure.functions as func

from bindings import STORAGE, answer, context
from bindings.crawls import poison_message, stage_message
from credly_connector.ops.webhooks import receive_event
from credly_connector.pipeline.queues import EVENTS, QUEUE_NAMES

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # the library leaves it untyped


@bp.route(route="credly/events", methods=["POST"])
def credly_events(req: func.HttpRequest) -> func.HttpResponse:
    """Credly's webhook (key in `?code=`): queue the notification, answer 200 at once."""
    return answer(lambda: receive_event(context(), req.get_body()), stage="webhook")


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[EVENTS], connection=STORAGE)
def credly_event(msg: func.QueueMessage) -> None:
    """Confirm a notified event at Credly, refresh its badge, recompose the people touched."""
    stage_message(EVENTS, msg)


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[EVENTS] + "-poison", connection=STORAGE)
def credly_event_poison(msg: func.QueueMessage) -> None:
    """An event that failed on every delivery: recorded as failed; the next crawl reconciles."""
    poison_message(EVENTS, msg)
