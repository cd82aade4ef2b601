"""Stage 2: fetch one page, store its badges (skipping unchanged rows), remember recipients."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from credly_connector import telemetry
from credly_connector.pipeline.cancel import keep_if_ended
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.messages import PageMessage, PlanMessage
from credly_connector.pipeline.query import crawl_query
from credly_connector.pipeline.steps import begin_step
from credly_connector.rules.badges import Badge, parse_badge
from credly_connector.stores.badges import BadgeKey, Change, Upserted
from credly_connector.stores.crawls import CrawlKind, CrawlRecord
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus

log = logging.getLogger(__name__)
# Point reads and writes of one page in flight at once.
TABLE_THREADS = 8


def handle_page(ctx: CrawlContext, message: PageMessage, delivery: Delivery) -> None:
    """Run the page stage for one page (idempotent)."""
    run = begin_step(ctx, message.crawl_id, StepKind.PAGE, message.page, delivery)
    if run is None:
        return
    if run.due:
        with run.attempt():
            run.result = store_page(ctx, run.crawl, message.page)
    run.finish([PlanMessage(message.crawl_id)])


def store_page(ctx: CrawlContext, record: CrawlRecord, number: int) -> StepRecord:
    """Fetch page `number`, upsert its badges, and remember the recipients whose badges changed."""
    page = ctx.credly_for(record.organization_id).badge_page(number, crawl_query(record))
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    badges: dict[str, Badge] = {}
    for raw in page.badges:
        parsed = parse_badge(raw, organization_id=record.organization_id)
        if not isinstance(parsed, Badge):
            reasons[parsed.reason] += 1
            log.info(
                "badge %s skipped: %s (%s)",
                parsed.badge_id,
                parsed.reason,
                parsed.detail,
                extra={"crawl_id": record.crawl_id, "stage": "pages"},
            )
            continue
        badges[parsed.id] = parsed  # a repeated id on one page counts once
    counts["badges_seen"] = len(badges)
    changed, moved = _compare(ctx, record, list(badges.values()))
    rows = [b for b, _ in changed]
    emails = {b.recipient_email for b in rows} | {old.recipient_email for old in moved}
    # Before the rows, side by side (each in transactions: a page is one organisation, one
    # partition of each table): the recipients (once a row is written a redelivery finds it
    # unchanged, so a crash after the write must not lose whose item to recompose), the
    # expiry index, and, unless a badge moved, the badge-id index (entries may name rows not
    # written yet, never omit one).
    before_rows: list[Callable[[], object]] = [
        lambda: ctx.crawlsets.add_emails(record.crawl_id, emails, group=f"page-{number}"),
        lambda: ctx.expiries.track_many((b, outcome.previous) for b, outcome in changed),
    ]
    # Once the organisation is marked complete, its new rows' emails are marked with them;
    # before that, a full crawl's plan marks every email it walks (`stores/badge_marks.py`).
    # A page with no row to write reads nothing.
    mark = bool(rows) and ctx.badges.marks.complete(record.organization_id)
    if not moved:
        before_rows.append(lambda: ctx.badges.index_many(rows, mark=mark))
    # What the plan's sweep checks rows against.
    if record.kind == CrawlKind.FULL and not record.fresh:
        keys = [BadgeKey.of(b).row_key() for b in badges.values()]
        before_rows.append(lambda: ctx.seen.mark_seen(record.crawl_id, keys))
    with ThreadPoolExecutor(len(before_rows), thread_name_prefix="page-writes") as pool:
        for write in [pool.submit(write) for write in before_rows]:
            write.result()
    # A cancel may have copied the crawl set before that write: then the page keeps them.
    keep_if_ended(ctx, record.crawl_id, emails)
    if moved:
        # A badge Credly moved to another email leaves its old row before the index names
        # the new one: a crash after this finds the badge still new, and its index entry
        # naming the old, missing, row.
        for old in moved:
            ctx.expiries.forget(old)
            ctx.badges.delete(BadgeKey.of(old))
        counts["badges_moved"] = len(moved)
        ctx.badges.index_many(rows, mark=mark)
    ctx.badges.write_rows(rows)
    for _, outcome in changed:
        counts[f"badges_{outcome.change.value}"] += 1
        counts["badges_changed"] += 1
    # The checkpoint last: a crash before it only redoes this page.
    # Counted once the work succeeded, like the step's counts: parse skips are counted here,
    # eligibility and identity skips by the profile stage (disjoint reasons).
    labels = telemetry.crawl_attributes(record.crawl_id, record.organization_id)
    telemetry.badges_fetched(len(page.badges), labels)
    telemetry.badges_changed(counts["badges_changed"], labels)
    telemetry.badges_skipped(reasons, labels)
    return StepRecord(
        record.crawl_id,
        StepKind.PAGE,
        number,
        StepStatus.DONE,
        counts=dict(counts),
        reasons=dict(reasons),
    )


def _compare(
    ctx: CrawlContext, record: CrawlRecord, badges: list[Badge]
) -> tuple[list[tuple[Badge, Upserted]], list[Badge]]:
    """The changed badges with what each replaced, and the rows moved badges left behind.

    A badge new under its email may have moved from another one: its old row is found
    through the badge-id index. Point reads, side by side: the round trips, not our CPU,
    bound them. A fresh crawl (nothing stored when it started) reads nothing.
    """
    if record.fresh:
        return [(b, Upserted(Change.NEW, None)) for b in badges], []
    with ThreadPoolExecutor(TABLE_THREADS, thread_name_prefix="pages") as pool:
        outcomes = zip(badges, pool.map(ctx.badges.compare, badges), strict=True)
        changed = [(b, o) for b, o in outcomes if o.change is not Change.UNCHANGED]
        new = [b for b, o in changed if o.change is Change.NEW]
        moved = [old for old in pool.map(ctx.badges.moved_from, new) if old is not None]
    return changed, moved
