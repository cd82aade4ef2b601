"""Stage 2: fetch one page, store its badges (skipping unchanged rows), remember recipients."""

from __future__ import annotations

import logging
from collections import Counter

from credly_connector import telemetry
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.messages import PageMessage, PlanMessage
from credly_connector.pipeline.start import crawl_query
from credly_connector.pipeline.steps import execute_step
from credly_connector.rules.badges import Badge, parse_badge
from credly_connector.stores.badges import BadgeKey, Change
from credly_connector.stores.crawls import FULL, CrawlRecord
from credly_connector.stores.steps import DONE, PAGE, StepRecord

log = logging.getLogger(__name__)


def handle_page(ctx: CrawlContext, message: PageMessage, delivery: Delivery) -> None:
    """Run the page stage for one page (idempotent)."""
    execute_step(
        ctx,
        message.crawl_id,
        PAGE,
        message.page,
        delivery,
        work=lambda record: store_page(ctx, record, message.page),
        followups=lambda record: [PlanMessage(record.crawl_id)],
    )


def store_page(ctx: CrawlContext, record: CrawlRecord, number: int) -> StepRecord:
    """Fetch page `number`, upsert its badges, and remember the recipients whose badges changed."""
    page = ctx.credly_for(record.organization_id).badge_page(number, crawl_query(record))
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    affected: set[str] = set()
    seen: list[str] = []
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
    for badge in badges.values():
        if record.kind == FULL:
            seen.append(BadgeKey(badge.recipient_email, badge.id).digest())
        outcome = ctx.badges.upsert(badge)
        if outcome.change is Change.UNCHANGED:
            continue
        counts[f"badges_{outcome.change.value}"] += 1
        counts["badges_changed"] += 1
        ctx.expiries.track(badge, outcome.previous)
        affected.add(badge.recipient_email)
    # Recipients first, the checkpoint last: a crash in between only redoes this page.
    ctx.crawlsets.add_emails(record.crawl_id, affected)
    # Counted once the work succeeded, like the step's counts: parse skips are counted here,
    # eligibility and identity skips by the profile stage (disjoint reasons).
    labels = telemetry.crawl_attributes(record.crawl_id, record.organization_id)
    telemetry.badges_fetched(len(page.badges), labels)
    telemetry.badges_changed(counts["badges_changed"], labels)
    telemetry.badges_skipped(reasons, labels)
    return StepRecord(
        record.crawl_id,
        PAGE,
        number,
        DONE,
        counts=dict(counts),
        reasons=dict(reasons),
        seen=tuple(seen),
    )
