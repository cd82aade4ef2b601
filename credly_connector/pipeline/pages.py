"""Stage 2: fetch a message's pages, store their changed badges, remember their recipients."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from credly_connector import telemetry
from credly_connector.credly.client import BadgePage
from credly_connector.pipeline.cancel import keep_if_ended
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.messages import PageMessage, PlanMessage
from credly_connector.pipeline.query import crawl_query
from credly_connector.pipeline.step_group import begin_steps, finish_steps, shared_attempt
from credly_connector.pipeline.steps import StepRun
from credly_connector.rules.badges import Badge, parse_badge
from credly_connector.stores.badges import BadgeKey, Change, Upserted
from credly_connector.stores.crawls import CrawlKind, CrawlRecord
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus

log = logging.getLogger(__name__)
# Point reads and writes of one page in flight at once.
TABLE_THREADS = 8


def handle_page(ctx: CrawlContext, message: PageMessage, delivery: Delivery) -> None:
    """Run the page stage for the message's pages (idempotent, each page its own step)."""
    runs = begin_steps(ctx, message.crawl_id, StepKind.PAGE, message.numbers, delivery)
    due = [run for run in runs if run.due]
    if due:
        record = due[0].crawl
        pages = _fetch(ctx, record, due)
        fetched = [run for run in due if run.number in pages]
        if fetched:
            with shared_attempt(fetched):
                results = store_pages(ctx, record, pages)
                for run in fetched:
                    run.result = results[run.number]
    finish_steps(runs, [PlanMessage(message.crawl_id)])


def _fetch(ctx: CrawlContext, record: CrawlRecord, runs: list[StepRun]) -> dict[int, BadgePage]:
    """The runs' pages from Credly, side by side; a page that failed stays on its run.

    Each read holds one of the organisation's Credly slots, so a message of two pages takes
    about as long as a message of one when slots are free, and waits its turn when not.
    """
    client = ctx.credly_for(record.organization_id)
    query = crawl_query(record)
    pages: dict[int, BadgePage] = {}

    def fetch(run: StepRun) -> None:
        with run.attempt(defer=True):
            pages[run.number] = client.badge_page(run.number, query)

    if len(runs) == 1:
        fetch(runs[0])
        return pages
    with ThreadPoolExecutor(len(runs), thread_name_prefix="page-reads") as pool:
        for done in [pool.submit(fetch, run) for run in runs]:
            done.result()
    return pages


def store_pages(
    ctx: CrawlContext, record: CrawlRecord, pages: dict[int, BadgePage]
) -> dict[int, StepRecord]:
    """Upsert the pages' badges together and remember the recipients whose badges changed.

    Each page's counts are its own; a badge on two of the pages (the listing moved between
    the reads) is written once, as the later page has it.
    """
    counts = {number: Counter[str]() for number in pages}
    reasons = {number: Counter[str]() for number in pages}
    badges: dict[str, Badge] = {}
    source: dict[str, int] = {}
    for number, page in sorted(pages.items()):
        here: dict[str, Badge] = {}
        for raw in page.badges:
            parsed = parse_badge(raw, organization_id=record.organization_id)
            if not isinstance(parsed, Badge):
                reasons[number][parsed.reason] += 1
                log.info(
                    "badge %s skipped: %s (%s)",
                    parsed.badge_id,
                    parsed.reason,
                    parsed.detail,
                    extra={"crawl_id": record.crawl_id, "stage": "pages"},
                )
                continue
            here[parsed.id] = parsed  # a repeated id on one page counts once
        counts[number]["badges_seen"] = len(here)
        badges.update(here)
        source.update(dict.fromkeys(here, number))
    changed, moved = _compare(ctx, record, list(badges.values()))
    _write(ctx, record, changed, moved, group=f"page-{min(pages)}", badges=badges.values())
    for old in moved:
        counts[source[old.id]]["badges_moved"] += 1
    for badge, outcome in changed:
        counts[source[badge.id]][f"badges_{outcome.change.value}"] += 1
        counts[source[badge.id]]["badges_changed"] += 1
    # Counted once the work succeeded, like the steps' counts: parse skips are counted here,
    # eligibility and identity skips by the profile stage (disjoint reasons).
    labels = telemetry.crawl_attributes(record.crawl_id, record.organization_id)
    telemetry.badges_fetched(sum(len(page.badges) for page in pages.values()), labels)
    telemetry.badges_changed(sum(c["badges_changed"] for c in counts.values()), labels)
    telemetry.badges_skipped(sum(reasons.values(), Counter[str]()), labels)
    return {
        number: StepRecord(
            record.crawl_id,
            StepKind.PAGE,
            number,
            StepStatus.DONE,
            counts=dict(counts[number]),
            reasons=dict(reasons[number]),
        )
        for number in pages
    }


def _write(
    ctx: CrawlContext,
    record: CrawlRecord,
    changed: list[tuple[Badge, Upserted]],
    moved: list[Badge],
    *,
    group: str,
    badges: Iterable[Badge],
) -> None:
    """Write the changed rows and what must be written before them.

    The checkpoints come after (in `finish_steps`): a crash before them only redoes the pages.
    """
    rows = [b for b, _ in changed]
    emails = {b.recipient_email for b in rows} | {old.recipient_email for old in moved}
    # Before the rows, side by side (each in transactions: a page is one organisation, one
    # partition of each table): the recipients (once a row is written a redelivery finds it
    # unchanged, so a crash after the write must not lose whose item to recompose), the
    # expiry index, and, unless a badge moved, the badge-id index (entries may name rows not
    # written yet, never omit one).
    before_rows: list[Callable[[], object]] = [
        lambda: ctx.crawlsets.add_emails(record.crawl_id, emails, group=group),
        lambda: ctx.expiries.track_many((b, outcome.previous) for b, outcome in changed),
    ]
    # Once the organisation is marked complete, its new rows' emails are marked with them;
    # before that, a full crawl's plan marks every email it walks (`stores/badge_marks.py`).
    # Pages with no row to write read nothing.
    mark = bool(rows) and ctx.badges.marks.complete(record.organization_id)
    if not moved:
        before_rows.append(lambda: ctx.badges.index_many(rows, mark=mark))
    # What the plan's sweep checks rows against.
    if record.kind == CrawlKind.FULL and not record.fresh:
        keys = [BadgeKey.of(b).row_key() for b in badges]
        before_rows.append(lambda: ctx.seen.mark_seen(record.crawl_id, keys))
    with ThreadPoolExecutor(len(before_rows), thread_name_prefix="page-writes") as pool:
        for write in [pool.submit(write) for write in before_rows]:
            write.result()
    # A cancel may have copied the crawl set before that write: then the pages keep them.
    keep_if_ended(ctx, record.crawl_id, emails)
    if moved:
        # A badge Credly moved to another email leaves its old row before the index names
        # the new one: a crash after this finds the badge still new, and its index entry
        # naming the old, missing, row.
        for old in moved:
            ctx.expiries.forget(old)
            ctx.badges.delete(BadgeKey.of(old))
        ctx.badges.index_many(rows, mark=mark)
    ctx.badges.write_rows(rows)


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
