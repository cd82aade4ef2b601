"""The crawl's triggers: the two schedules, and one queue trigger per pipeline stage."""

from __future__ import annotations

import logging

import azure.functions as func

from bindings import STORAGE, context
from credly_connector import telemetry
from credly_connector.pipeline.context import Delivery
from credly_connector.pipeline.dispatch import handle_message, handle_poison
from credly_connector.pipeline.launch import request_crawls
from credly_connector.pipeline.messages import FINISH, PAGES, PLAN, PROFILES, START
from credly_connector.pipeline.queues import QUEUE_NAMES

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # the library leaves it untyped
log = logging.getLogger("credly_connector")


def timer_crawl(kind: str, timer: func.TimerRequest) -> None:
    """Ask for a crawl of `kind` of every organisation; log the ones skipped or late."""
    with telemetry.scope(stage="timer"):
        for outcome in request_crawls(context(), kind, "timer"):
            if outcome.crawl is None:
                log.info("%s crawl skipped: crawl %s is still running", kind, outcome.busy_with)
            elif timer.past_due:
                log.info("%s crawl %s started late (timer past due)", kind, outcome.crawl.crawl_id)


def stage_message(stage: str, msg: func.QueueMessage) -> None:
    """Hand one delivery of a stage's message to the pipeline."""
    delivery = Delivery(dequeue_count=msg.dequeue_count or 1, enqueued_at=msg.insertion_time)
    handle_message(context(), stage, msg.get_body(), delivery)


def poison_message(stage: str, msg: func.QueueMessage) -> None:
    """Hand a message that exhausted its deliveries to the pipeline, to settle it as failed."""
    handle_poison(context(), stage, msg.get_body())


@bp.timer_trigger(arg_name="timer", schedule="%INCREMENTAL_CRAWL_SCHEDULE%", use_monitor=True)
def incremental_crawl(timer: func.TimerRequest) -> None:
    """Daily by default: read what changed at Credly since the watermark."""
    timer_crawl("incremental", timer)


@bp.timer_trigger(arg_name="timer", schedule="%FULL_CRAWL_SCHEDULE%", use_monitor=True)
def full_crawl(timer: func.TimerRequest) -> None:
    """Weekly by default: read every badge, and forget the ones Credly no longer lists."""
    timer_crawl("full", timer)


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[START], connection=STORAGE)
def crawl_start(msg: func.QueueMessage) -> None:
    """Stage 1: directory refresh, page count, one message per page."""
    stage_message(START, msg)


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PAGES], connection=STORAGE)
def crawl_pages(msg: func.QueueMessage) -> None:
    """Stage 2: one page of badges into the badge store."""
    stage_message(PAGES, msg)


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PLAN], connection=STORAGE)
def crawl_plan(msg: func.QueueMessage) -> None:
    """Stage 3: sweep (full crawls) and batch the people to recompose."""
    stage_message(PLAN, msg)


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PROFILES], connection=STORAGE)
def crawl_profiles(msg: func.QueueMessage) -> None:
    """Stage 4: recompose and write a batch of people's items."""
    stage_message(PROFILES, msg)


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[FINISH], connection=STORAGE)
def crawl_finish(msg: func.QueueMessage) -> None:
    """Stage 5: counts, watermark, status, lease."""
    stage_message(FINISH, msg)


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PAGES] + "-poison", connection=STORAGE)
def crawl_pages_poison(msg: func.QueueMessage) -> None:
    """A page message that exhausted its deliveries: its page is settled as failed."""
    poison_message(PAGES, msg)


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PROFILES] + "-poison", connection=STORAGE)
def crawl_profiles_poison(msg: func.QueueMessage) -> None:
    """A profile batch that exhausted its deliveries: its batch is settled as failed."""
    poison_message(PROFILES, msg)
