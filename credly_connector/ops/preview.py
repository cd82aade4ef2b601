"""Preview operations: a dry-run crawl's per-person outcome as JSON, or as a static HTML page."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from credly_connector.ops.answers import Answer, parse_limit, problem
from credly_connector.pipeline.context import CrawlContext
from credly_connector.preview.page import render_page
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.previews import ACTIONS

_CRAWL_ID = re.compile(r"[0-9]{13}[0-9a-f]{6}")
# How far back `latest dry run` looks (the crawl list is newest first).
SCAN_CRAWLS = 500
MAX_PAGE = 1000
PAGE_FILE = "index.html"


def find_dry_run(ctx: CrawlContext, crawl_id: str | None) -> CrawlRecord | Answer:
    """The dry-run crawl `crawl_id`, or the latest one when None; else the 4xx answer why not."""
    if crawl_id is None:
        for record in ctx.crawls.latest(SCAN_CRAWLS):
            if record.dry_run:
                return record
        return problem(
            404,
            f"No dry-run crawl among the latest {SCAN_CRAWLS} crawls. Start one with "
            '`python -m credly_connector crawl --dry-run` or POST {"dryRun": true} to '
            "/api/ops/crawls.",
        )
    if not _CRAWL_ID.fullmatch(crawl_id):
        return problem(400, "A crawl id is 19 characters: 13 digits and 6 hex digits.")
    stored = ctx.crawls.get(crawl_id)
    if stored is None:
        return problem(404, f"No crawl {crawl_id}.")
    if not stored.dry_run:
        return problem(
            409,
            f"Crawl {crawl_id} was not a dry run, so it has no preview; its writes are in Graph.",
        )
    return stored


def crawl_preview(
    ctx: CrawlContext, crawl_id: str, *, limit: str | None = None, after: str | None = None
) -> Answer:
    """`GET ops/crawls/{id}/preview?limit=N&after=USER`: a page of per-person previews.

    The answer holds the crawl (its counts include the skip summary), up to `limit` people by
    user id (default 100), and `next` (the `after` value of the following page) when more.
    """
    found = find_dry_run(ctx, crawl_id)
    if isinstance(found, Answer):
        return found
    count = parse_limit(limit, default=100, most=MAX_PAGE)
    if isinstance(count, Answer):
        return count
    page = ctx.previews.page(found.crawl_id, limit=count, after=after or None)
    return Answer(
        200,
        {
            "crawl": found.to_json(),
            "skipped": found.counts.get("skipped", {}),
            "people": [p.to_json() for p in page.previews],
            "next": page.next_after,
        },
    )


def write_preview_page(ctx: CrawlContext, out_dir: Path, crawl_id: str | None = None) -> Answer:
    """Render a dry run's preview (the latest when `crawl_id` is None) to `out_dir/index.html`.

    Returns:
        200 with the page's path and the people per action, or the 4xx answer of
        `find_dry_run`.
    """
    found = find_dry_run(ctx, crawl_id)
    if isinstance(found, Answer):
        return found
    previews = list(ctx.previews.previews(found.crawl_id))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PAGE_FILE
    path.write_text(render_page(found, previews, generated_at=ctx.clock()), encoding="utf-8")
    actions = Counter(p.action for p in previews)
    return Answer(
        200,
        {
            "crawlId": found.crawl_id,
            "status": found.status,
            "path": str(path),
            "people": len(previews),
            "actions": {action: actions.get(action, 0) for action in ACTIONS},
        },
    )
