"""Azure Functions bindings: each trigger translates its input into one call of the core.

The pipeline context is built on first use, once per worker process, from the app settings;
a bad setting fails that first invocation with a message naming the setting and its fix.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable

import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError

from credly_connector import about, telemetry
from credly_connector.ops.answers import Answer, problem
from credly_connector.ops.crawls import (
    cancel_crawl,
    crawl_status,
    list_crawls,
    retry_crawl,
    start_crawl,
)
from credly_connector.ops.health import health
from credly_connector.ops.overrides import delete_override, list_overrides, set_override
from credly_connector.ops.people import diagnose_person
from credly_connector.ops.preview import crawl_preview
from credly_connector.ops.rebuild import rebuild
from credly_connector.ops.reports import badge_report
from credly_connector.ops.setup import setup
from credly_connector.ops.teardown import teardown
from credly_connector.ops.webhooks import receive_event
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.dispatch import handle_message, handle_poison
from credly_connector.pipeline.launch import request_crawls
from credly_connector.pipeline.messages import FINISH, PAGES, PLAN, PROFILES, START
from credly_connector.pipeline.queues import EVENTS, QUEUE_NAMES
from credly_connector.runtime import build_context
from credly_connector.settings import SettingProblem, SettingsError, load_settings

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("credly_connector")
STORAGE = "AzureWebJobsStorage"
_context: CrawlContext | None = None
_lock = threading.Lock()


def context() -> CrawlContext:
    """The process's pipeline context, built from the app settings on first use."""
    global _context  # noqa: PLW0603 - one context per worker process
    with _lock:
        if _context is None:
            settings = load_settings(os.environ)
            if settings.storage.prefix:
                raise SettingsError(
                    [
                        SettingProblem(
                            "STORAGE_PREFIX",
                            "is for local runs and tests; the bindings use fixed queue names",
                            "remove STORAGE_PREFIX from the app settings",
                        )
                    ]
                )
            telemetry.quiet_sdk_loggers()
            _context = build_context(settings)
        return _context


def respond(answer: Answer) -> func.HttpResponse:
    """An operation's answer as an HTTP response."""
    return func.HttpResponse(
        answer.json(),
        status_code=answer.status,
        mimetype="application/json",
        headers=answer.headers,
    )


def _ops(run: Callable[[CrawlContext], Answer], stage: str = "ops") -> func.HttpResponse:
    with telemetry.scope(stage=stage):
        return _answer(run)


def _answer(run: Callable[[CrawlContext], Answer]) -> func.HttpResponse:
    try:
        return respond(run(context()))
    except SettingsError as error:
        log.error("%s", error)
        return respond(problem(500, str(error)))
    except ResourceNotFoundError as error:
        if getattr(error, "error_code", None) not in {"TableNotFound", "QueueNotFound"}:
            raise
        return respond(
            problem(
                503,
                "The connector's storage tables and queues do not exist yet.",
                fix="run POST /api/ops/setup (or python -m credly_connector setup)",
            )
        )


# -- timers --------------------------------------------------------------------------------


def _timer_crawl(kind: str, timer: func.TimerRequest) -> None:
    with telemetry.scope(stage="timer"):
        _request_crawls(kind, timer)


def _request_crawls(kind: str, timer: func.TimerRequest) -> None:
    for outcome in request_crawls(context(), kind, "timer"):
        if outcome.crawl is None:
            log.info("%s crawl skipped: crawl %s is still running", kind, outcome.busy_with)
        elif timer.past_due:
            log.info("%s crawl %s started late (timer past due)", kind, outcome.crawl.crawl_id)


@app.function_name("incremental_crawl")
@app.timer_trigger(arg_name="timer", schedule="%INCREMENTAL_CRAWL_SCHEDULE%", use_monitor=True)
def incremental_crawl(timer: func.TimerRequest) -> None:
    """Daily by default: read what changed at Credly since the watermark."""
    _timer_crawl("incremental", timer)


@app.function_name("full_crawl")
@app.timer_trigger(arg_name="timer", schedule="%FULL_CRAWL_SCHEDULE%", use_monitor=True)
def full_crawl(timer: func.TimerRequest) -> None:
    """Weekly by default: read every badge, and forget the ones Credly no longer lists."""
    _timer_crawl("full", timer)


# -- pipeline stages -----------------------------------------------------------------------


def _stage(stage: str, msg: func.QueueMessage) -> None:
    delivery = Delivery(dequeue_count=msg.dequeue_count or 1, enqueued_at=msg.insertion_time)
    handle_message(context(), stage, msg.get_body(), delivery)


def _poison(stage: str, msg: func.QueueMessage) -> None:
    handle_poison(context(), stage, msg.get_body())


@app.function_name("crawl_start")
@app.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[START], connection=STORAGE)
def crawl_start(msg: func.QueueMessage) -> None:
    """Stage 1: directory refresh, page count, one message per page."""
    _stage(START, msg)


@app.function_name("crawl_pages")
@app.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PAGES], connection=STORAGE)
def crawl_pages(msg: func.QueueMessage) -> None:
    """Stage 2: one page of badges into the badge store."""
    _stage(PAGES, msg)


@app.function_name("crawl_plan")
@app.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PLAN], connection=STORAGE)
def crawl_plan(msg: func.QueueMessage) -> None:
    """Stage 3: sweep (full crawls) and batch the people to recompose."""
    _stage(PLAN, msg)


@app.function_name("crawl_profiles")
@app.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PROFILES], connection=STORAGE)
def crawl_profiles(msg: func.QueueMessage) -> None:
    """Stage 4: recompose and write a batch of people's items."""
    _stage(PROFILES, msg)


@app.function_name("crawl_finish")
@app.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[FINISH], connection=STORAGE)
def crawl_finish(msg: func.QueueMessage) -> None:
    """Stage 5: counts, watermark, status, lease."""
    _stage(FINISH, msg)


@app.function_name("crawl_pages_poison")
@app.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PAGES] + "-poison", connection=STORAGE)
def crawl_pages_poison(msg: func.QueueMessage) -> None:
    """A page message that exhausted its deliveries: its page is settled as failed."""
    _poison(PAGES, msg)


@app.function_name("crawl_profiles_poison")
@app.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[PROFILES] + "-poison", connection=STORAGE)
def crawl_profiles_poison(msg: func.QueueMessage) -> None:
    """A profile batch that exhausted its deliveries: its batch is settled as failed."""
    _poison(PROFILES, msg)


# -- operations ----------------------------------------------------------------------------


@app.function_name("ops_version")
@app.route(route="ops/version", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_version(req: func.HttpRequest) -> func.HttpResponse:
    """Which build of the connector is deployed."""
    return func.HttpResponse(json.dumps(about()), mimetype="application/json")


def _status_url(req: func.HttpRequest) -> str:
    base = str(req.url).split("?", 1)[0].rstrip("/")
    return base + "/{id}"


@app.function_name("ops_crawls_start")
@app.route(route="ops/crawls", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def ops_crawls_start(req: func.HttpRequest) -> func.HttpResponse:
    """Start a crawl: 202 with its id and status URL, 409 while one runs."""
    return _ops(
        lambda ctx: start_crawl(ctx, req.get_body(), status_url=_status_url(req), trigger="http")
    )


@app.function_name("ops_crawls_list")
@app.route(route="ops/crawls", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_crawls_list(req: func.HttpRequest) -> func.HttpResponse:
    """The latest crawls first, with status and counts."""
    return _ops(lambda ctx: list_crawls(ctx, req.params.get("limit")))


@app.function_name("ops_crawls_status")
@app.route(route="ops/crawls/{crawl_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_crawls_status(req: func.HttpRequest) -> func.HttpResponse:
    """One crawl's status and counts."""
    return _ops(lambda ctx: crawl_status(ctx, str(req.route_params.get("crawl_id", ""))))


@app.function_name("ops_crawls_retry")
@app.route(
    route="ops/crawls/{crawl_id}/retry", methods=["POST"], auth_level=func.AuthLevel.FUNCTION
)
def ops_crawls_retry(req: func.HttpRequest) -> func.HttpResponse:
    """Re-drive a failed crawl's failed pages or batches: 202, or 409 when it cannot."""
    crawl_id = str(req.route_params.get("crawl_id", ""))
    status_url = str(req.url).split("?", 1)[0].rstrip("/").removesuffix("/retry")
    status_url = status_url.removesuffix(crawl_id) + "{id}"
    return _ops(lambda ctx: retry_crawl(ctx, crawl_id, status_url=status_url))


@app.function_name("ops_crawls_cancel")
@app.route(
    route="ops/crawls/{crawl_id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION
)
def ops_crawls_cancel(req: func.HttpRequest) -> func.HttpResponse:
    """End a queued or running crawl as cancelled: 200, or 409 once it has ended."""
    crawl_id = str(req.route_params.get("crawl_id", ""))
    return _ops(lambda ctx: cancel_crawl(ctx, crawl_id))


@app.function_name("ops_crawls_preview")
@app.route(
    route="ops/crawls/{crawl_id}/preview", methods=["GET"], auth_level=func.AuthLevel.FUNCTION
)
def ops_crawls_preview(req: func.HttpRequest) -> func.HttpResponse:
    """A dry-run crawl's per-person preview (`?limit=N&after=USER` pages through it)."""
    crawl_id = str(req.route_params.get("crawl_id", ""))
    return _ops(
        lambda ctx: crawl_preview(
            ctx, crawl_id, limit=req.params.get("limit"), after=req.params.get("after")
        )
    )


# -- operations: setup and health ----------------------------------------------------------


@app.function_name("ops_setup")
@app.route(route="ops/setup", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def ops_setup(req: func.HttpRequest) -> func.HttpResponse:
    """Create what is missing of the connection, schema and profile source; each step's state."""
    return _ops(lambda ctx: setup(ctx, req.get_body()))


@app.function_name("ops_teardown")
@app.route(route="ops/teardown", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def ops_teardown(req: func.HttpRequest) -> func.HttpResponse:
    """What teardown would remove; with `{"confirm": "<connection id>"}`, remove it."""
    return _ops(lambda ctx: teardown(ctx, req.get_body()))


@app.function_name("ops_rebuild")
@app.route(route="ops/rebuild", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def ops_rebuild(req: func.HttpRequest) -> func.HttpResponse:
    """Rebuild onto `{"to": "<new id>"}` for up to 150 s a call; call again to resume."""
    return _ops(lambda ctx: rebuild(ctx, req.get_body()))


@app.function_name("ops_health")
@app.route(route="ops/health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_health(req: func.HttpRequest) -> func.HttpResponse:
    """Every check with its cause and fix: 200 when all pass, 503 otherwise.

    Reads the app settings itself rather than the built context, so invalid settings are
    reported as failed checks instead of failing the request.
    """
    return respond(health(os.environ))


# -- operations: per-person diagnosis, identity overrides, badge report -----------------------


@app.function_name("ops_people_diagnose")
@app.route(route="ops/people/{email}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_people_diagnose(req: func.HttpRequest) -> func.HttpResponse:
    """Why a person's badges are shown or not: identity, each badge's decision, last write."""
    return _ops(lambda ctx: diagnose_person(ctx, str(req.route_params.get("email", ""))))


def _actor(req: func.HttpRequest) -> str:
    """Who asked: the signed-in principal when App Service authentication is on, else `http`."""
    return str(req.headers.get("x-ms-client-principal-name") or "http")[:200]


@app.function_name("ops_identity_overrides_put")
@app.route(
    route="ops/identity-overrides/{email}", methods=["PUT"], auth_level=func.AuthLevel.FUNCTION
)
def ops_identity_overrides_put(req: func.HttpRequest) -> func.HttpResponse:
    """Map a Credly email to an Entra user by UPN, and recompose both people at once."""
    email = str(req.route_params.get("email", ""))
    return _ops(lambda ctx: set_override(ctx, email, req.get_body(), actor=_actor(req)))


@app.function_name("ops_identity_overrides_delete")
@app.route(
    route="ops/identity-overrides/{email}", methods=["DELETE"], auth_level=func.AuthLevel.FUNCTION
)
def ops_identity_overrides_delete(req: func.HttpRequest) -> func.HttpResponse:
    """Remove an override (404 when there is none) and recompose who it affected."""
    return _ops(lambda ctx: delete_override(ctx, str(req.route_params.get("email", ""))))


@app.function_name("ops_identity_overrides_list")
@app.route(route="ops/identity-overrides", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_identity_overrides_list(req: func.HttpRequest) -> func.HttpResponse:
    """Every identity override and whom it resolves to now."""
    return _ops(list_overrides)


@app.function_name("ops_reports_badges")
@app.route(route="ops/reports/badges.csv", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_reports_badges(req: func.HttpRequest) -> func.HttpResponse:
    """CSV of every known badge (`?expiringWithin=DAYS` filters), built from a lazy scan.

    Not streamed: HTTP streams need the FastAPI extension, which switches every HTTP function
    of the app to its request/response types.
    """
    try:
        report = badge_report(context(), req.params.get("expiringWithin"))
    except SettingsError as error:
        log.error("%s", error)
        return respond(problem(500, str(error)))
    if isinstance(report, Answer):
        return respond(report)
    return func.HttpResponse(
        report.body(),
        status_code=report.status,
        mimetype="text/csv",
        charset="utf-8",
        headers=report.headers,
    )


# -- Credly webhooks -----------------------------------------------------------------------


@app.function_name("credly_events")
@app.route(route="credly/events", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def credly_events(req: func.HttpRequest) -> func.HttpResponse:
    """Credly's webhook (key in `?code=`): queue the notification, answer 200 at once."""
    return _ops(lambda ctx: receive_event(ctx, req.get_body()), stage="webhook")


@app.function_name("credly_event")
@app.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[EVENTS], connection=STORAGE)
def credly_event(msg: func.QueueMessage) -> None:
    """Confirm a notified event at Credly, refresh its badge, recompose the people touched."""
    _stage(EVENTS, msg)


@app.function_name("credly_event_poison")
@app.queue_trigger(arg_name="msg", queue_name=QUEUE_NAMES[EVENTS] + "-poison", connection=STORAGE)
def credly_event_poison(msg: func.QueueMessage) -> None:
    """An event that failed on every delivery: recorded as failed; the next crawl reconciles."""
    _poison(EVENTS, msg)
