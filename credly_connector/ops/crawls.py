"""Crawl operations: start one, read one, list the latest, retry a failed one, cancel one."""

from __future__ import annotations

import re

from credly_connector.ops.answers import Answer, parse_json_object, parse_limit, problem
from credly_connector.pipeline.cancel import CancelOutcome, end_as_cancelled
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.launch import request_crawl
from credly_connector.pipeline.redrive import Redrive, RedriveOutcome, redrive_crawl
from credly_connector.stores.crawls import KINDS, CrawlRecord, CrawlStatus

_CRAWL_ID = re.compile(r"[0-9]{13}[0-9a-f]{6}")
MAX_LIST = 200
# Failed steps a status shows (the count says how many there are in all).
MAX_FAILED_SHOWN = 100


def start_crawl(ctx: CrawlContext, body: bytes, *, status_url: str, trigger: str) -> Answer:
    """`POST ops/crawls` with `{"kind", "organizationId"?, "dryRun"?}`: 202, or 409 while busy.

    Without `organizationId`, every configured organisation is crawled (each under its own
    lease); the answer lists the crawls started and those still running. 409 only when no
    crawl could start.

    Args:
        ctx: The pipeline context.
        body: The request body.
        status_url: The status route with `{id}` standing for the crawl id.
        trigger: Who asked, as recorded on the crawl (`http`).
    """
    parsed = parse_json_object(body, allowed={"kind", "organizationId", "dryRun"})
    if isinstance(parsed, Answer):
        return parsed
    wrong = _request_problem(parsed)
    if wrong is not None:
        return wrong
    kind, dry_run = parsed.get("kind", "incremental"), parsed.get("dryRun", False)
    organization = parsed.get("organizationId")
    configured = ctx.options.organizations
    if organization is not None and organization not in configured:
        return problem(
            404,
            f"Organisation {organization!r} is not configured.",
            configured=list(configured),
        )
    targets = [organization] if organization else list(configured)
    outcomes = [request_crawl(ctx, kind, trigger, org, dry_run=dry_run) for org in targets]
    started = [o.crawl for o in outcomes if o.crawl is not None]
    busy = [o.busy_with or "" for o in outcomes if o.crawl is None]
    if not started:
        return problem(
            409,
            "A crawl of this organisation is already running; try again when it has ended.",
            runningCrawlId=busy[0],
            statusUrl=status_url.replace("{id}", busy[0]),
        )
    shown = [
        {
            "id": record.crawl_id,
            "organizationId": record.organization_id,
            "kind": kind,
            "dryRun": dry_run,
            "status": record.status,
            "statusUrl": status_url.replace("{id}", record.crawl_id),
        }
        for record in started
    ]
    first = shown[0]
    body_out = dict(first) if len(targets) == 1 else {**first, "crawls": shown, "running": busy}
    return Answer(202, body_out, {"Location": str(first["statusUrl"])})


def _request_problem(parsed: dict[str, object]) -> Answer | None:
    """The 400 answer for a crawl request's wrongly typed field, if any."""
    kind = parsed.get("kind", "incremental")
    if kind not in KINDS:
        return problem(400, f'"kind" must be one of {", ".join(KINDS)}; got {kind!r}.')
    dry_run = parsed.get("dryRun", False)
    if not isinstance(dry_run, bool):
        return problem(400, f'"dryRun" must be true or false; got {dry_run!r}.')
    organization = parsed.get("organizationId")
    if organization is not None and not isinstance(organization, str):
        return problem(400, f'"organizationId" must be a string; got {organization!r}.')
    return None


def crawl_status(ctx: CrawlContext, crawl_id: str) -> Answer:
    """`GET ops/crawls/{id}`: the crawl's status and counts, and its failed steps.

    Every page or profile batch that failed for good is listed with its last error (stage,
    step, attempts, message, when); `POST ops/crawls/{id}/retry` re-drives them.
    """
    if not _CRAWL_ID.fullmatch(crawl_id):
        return problem(400, _MALFORMED_ID)
    record = ctx.crawls.get(crawl_id)
    if record is None:
        return problem(404, f"No crawl {crawl_id}.")
    failed = list(ctx.steps.failed(crawl_id))
    body = record.to_json()
    body["failedStepCount"] = len(failed)
    body["failedSteps"] = [step.failure_json() for step in failed[:MAX_FAILED_SHOWN]]
    return Answer(200, body)


_MALFORMED_ID = "A crawl id is 19 characters: 13 digits and 6 hex digits."
_NEW_CRAWL = "Start a new crawl instead (POST ops/crawls, or `python -m credly_connector crawl`)."


def retry_crawl(ctx: CrawlContext, crawl_id: str, *, status_url: str | None = None) -> Answer:
    """`POST ops/crawls/{id}/retry`: re-drive the failed pages or batches of a failed crawl.

    202 once they are sent again; 400 for a malformed id, 404 for an unknown crawl, 409 when
    the crawl has not failed, has no failed step to re-drive, or another crawl of its
    organisation holds the lease (and for the second of two retries at once).

    Args:
        ctx: The pipeline context.
        crawl_id: The failed crawl.
        status_url: The status route with `{id}` standing for the crawl id, if any.
    """
    if not _CRAWL_ID.fullmatch(crawl_id):
        return problem(400, _MALFORMED_ID)
    done = redrive_crawl(ctx, crawl_id)
    record = done.record
    if done.outcome is RedriveOutcome.NOT_FOUND or record is None:
        return problem(404, f"No crawl {crawl_id}.")
    links = {"statusUrl": status_url.replace("{id}", crawl_id)} if status_url else {}
    if done.outcome is RedriveOutcome.REDRIVEN:
        body = {
            "id": crawl_id,
            "organizationId": record.organization_id,
            "status": record.status,
            "phase": record.phase,
            "redriven": list(done.steps),
            "poisonMessagesRemoved": done.poison_removed,
            **links,
        }
        headers = {"Location": links["statusUrl"]} if links else {}
        return Answer(202, body, headers)
    extra = {"runningCrawlId": done.busy_with} if done.busy_with else {}
    return problem(409, _refusal(done, record), crawlStatus=record.status, **extra, **links)


def _refusal(done: Redrive, record: CrawlRecord) -> str:
    """Why a retry did nothing, and what to do instead."""
    crawl = f"Crawl {record.crawl_id}"
    match done.outcome:
        case RedriveOutcome.NOT_FAILED:
            return _not_failed(record)
        case RedriveOutcome.ALREADY_REDRIVEN:
            return f"{crawl} is already being re-driven by another retry."
        case RedriveOutcome.BUSY:
            return (
                f"Crawl {done.busy_with} of organisation {record.organization_id} holds its"
                " lease; retry when it has ended."
            )
        case RedriveOutcome.NOT_CONFIGURED:
            return (
                f"{crawl} read organisation {record.organization_id}, which is no longer"
                f" configured. {_NEW_CRAWL}"
            )
        case RedriveOutcome.NOT_REBUILDABLE:
            return f"{crawl} cannot be re-driven: {done.detail}. {_NEW_CRAWL}"
        case _:
            stage = record.failure_stage or "an early stage"
            return (
                f"{crawl} failed in {stage} before any page or profile batch failed, so there"
                f" is nothing to re-drive. {_NEW_CRAWL}"
            )


def _not_failed(record: CrawlRecord) -> str:
    crawl = f"Crawl {record.crawl_id}"
    if record.status == CrawlStatus.CANCELLED:
        return f"{crawl} was cancelled and cannot be retried. {_NEW_CRAWL}"
    state = record.status if record.final else f"is {record.status}"
    return f"{crawl} {state}; only a failed crawl can be retried."


def list_crawls(ctx: CrawlContext, limit: str | None) -> Answer:
    """`GET ops/crawls?limit=N`: the latest crawls first."""
    count = parse_limit(limit, default=20, most=MAX_LIST)
    if isinstance(count, Answer):
        return count
    records = ctx.crawls.latest(count)
    return Answer(200, {"value": [r.to_json() for r in records]})


CANCELLED_NEXT = (
    "Its messages still on the queues are dropped when delivered; the organisation is free,"
    " and the next crawl writes the changes this one had read."
)


def cancel_crawl(ctx: CrawlContext, crawl_id: str) -> Answer:
    """`POST ops/crawls/{id}/cancel`: end a queued or running crawl as `cancelled`.

    200 with the crawl record (status `cancelled`) and what happens next; 400 for a
    malformed id, 404 for an unknown crawl, 409 for a crawl that has already ended
    (succeeded, failed or cancelled). A second cancel of the same crawl therefore answers
    409 and changes nothing: the first one's outcome stands.
    """
    if not _CRAWL_ID.fullmatch(crawl_id):
        return problem(400, _MALFORMED_ID)
    done = end_as_cancelled(ctx, crawl_id)
    record = done.record
    if done.outcome is CancelOutcome.NOT_FOUND or record is None:
        return problem(404, f"No crawl {crawl_id}.")
    if done.outcome is CancelOutcome.ALREADY_ENDED:
        return problem(
            409,
            f"Crawl {crawl_id} has already ended ({record.status}); there is nothing to cancel.",
            crawlStatus=record.status,
        )
    return Answer(200, {**record.to_json(), "next": CANCELLED_NEXT})
