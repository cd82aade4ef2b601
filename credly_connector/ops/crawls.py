"""Crawl operations: start one, read one, list the latest."""

from __future__ import annotations

import re

from credly_connector.ops.answers import Answer, parse_json_object, problem
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.launch import request_crawl
from credly_connector.stores.crawls import KINDS

_CRAWL_ID = re.compile(r"^[0-9]{13}[0-9a-f]{6}$")
MAX_LIST = 200


def start_crawl(ctx: CrawlContext, body: bytes, *, status_url: str, trigger: str) -> Answer:
    """`POST ops/crawls` with `{"kind", "organizationId"?, "dryRun"?}`: 202, or 409 while busy.

    Without `organizationId`, every configured organisation is crawled (each under its own
    lease); the answer lists the crawls started and those still running. 409 only when no
    crawl could start.

    Args:
        status_url: The status route with `{id}` standing for the crawl id.
    """
    parsed = parse_json_object(body, allowed={"kind", "organizationId", "dryRun"})
    if isinstance(parsed, Answer):
        return parsed
    kind = parsed.get("kind", "incremental")
    if kind not in KINDS:
        return problem(400, f'"kind" must be one of {", ".join(KINDS)}; got {kind!r}.')
    dry_run = parsed.get("dryRun", False)
    if not isinstance(dry_run, bool):
        return problem(400, f'"dryRun" must be true or false; got {dry_run!r}.')
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


def crawl_status(ctx: CrawlContext, crawl_id: str) -> Answer:
    """`GET ops/crawls/{id}`: the crawl's status and counts."""
    if not _CRAWL_ID.match(crawl_id):
        return problem(400, "A crawl id is 19 characters: 13 digits and 6 hex digits.")
    record = ctx.crawls.get(crawl_id)
    if record is None:
        return problem(404, f"No crawl {crawl_id}.")
    return Answer(200, record.to_json())


def list_crawls(ctx: CrawlContext, limit: str | None) -> Answer:
    """`GET ops/crawls?limit=N`: the latest crawls first."""
    try:
        count = 20 if limit is None else int(limit)
    except ValueError:
        return problem(400, '"limit" must be a whole number.')
    if not 1 <= count <= MAX_LIST:
        return problem(400, f'"limit" must be between 1 and {MAX_LIST}.')
    records = ctx.crawls.latest(count)
    return Answer(200, {"value": [r.to_json() for r in records]})
