"""Stage 3: once every page settled, sweep gone badges (full crawls) and batch who to recompose."""

from __future__ import annotations

import logging
from datetime import timedelta

from credly_connector import telemetry
from credly_connector.pipeline.batching import (
    StoredState,
    batch_messages,
    known_batch_messages,
    plan_people,
)
from credly_connector.pipeline.cancel import ended_unsuccessfully
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.failures import describe, fail_crawl
from credly_connector.pipeline.messages import FinishMessage, Message, PlanMessage
from credly_connector.pipeline.pending import remember_crawl, take_pending
from credly_connector.pipeline.transitions import advance, owes_followup
from credly_connector.stores.badges import BadgeKey
from credly_connector.stores.crawls import FULL, CrawlRecord
from credly_connector.stores.steps import DONE, PAGE, StepRecord

log = logging.getLogger(__name__)
# The plan step: what moved the crawl on (`advanced_by`) and the kind of its checkpoint.
STEP = "plan"
# An incremental crawl with no earlier success looks this far back for expired badges.
EXPIRY_LOOKBACK = timedelta(days=2)


def handle_plan(ctx: CrawlContext, message: PlanMessage, delivery: Delivery) -> None:
    """Run the plan stage (idempotent: the same store gives the same numbered batches)."""
    record = ctx.crawls.get(message.crawl_id)
    if record is not None:
        telemetry.annotate(organization_id=record.organization_id)
    if record is None or record.final or not record.phase_at_least("plan"):
        return
    if record.phase != "plan":
        if owes_followup(record, "profiles", STEP) or owes_followup(record, "finish", STEP):
            _send(ctx, record, _messages(ctx, record))
        return
    try:
        messages = _messages(ctx, record)
    except Exception as error:
        if delivery.final:
            fail_crawl(ctx, record, "plan", describe(error))
        raise
    batches = len(messages)

    def to_next_phase(current: CrawlRecord) -> CrawlRecord | None:
        moved = advance(current, "plan", "profiles" if batches else "finish", STEP)
        return None if moved is None else moved.with_changes(total_batches=batches)

    # Re-read on a conflict: the step that sent the plan message may still be saving the
    # record (its `followup_sent`); only another plan run having moved the crawl ends here.
    saved = ctx.crawls.update(record.crawl_id, to_next_phase)
    if saved is None:
        # Cancelled (or failed) meanwhile: what the sweep just removed stays owed.
        ended = ended_unsuccessfully(ctx, record.crawl_id)
        if ended is not None:
            remember_crawl(ctx, ended)
        return
    log.info(
        "%d profile batches planned",
        batches,
        extra={"crawl_id": record.crawl_id, "stage": "plan", "batches": batches},
    )
    _send(ctx, saved, messages)


def _send(ctx: CrawlContext, record: CrawlRecord, messages: list[Message]) -> None:
    ctx.queues.send_all(messages or [FinishMessage(record.crawl_id)])
    ctx.crawls.save(record.with_changes(followup_sent=True))


def _messages(ctx: CrawlContext, record: CrawlRecord) -> list[Message]:
    """The profile messages of a crawl, computed from the stores (deterministically)."""
    take_pending(ctx, record)
    members = ctx.crawlsets.members(record.crawl_id)
    emails = set(members.emails)
    users = set(members.user_ids)
    if record.kind == FULL:
        pages = list(ctx.steps.records(record.crawl_id, PAGE))
        complete = all(p.status == DONE for p in pages) and len(pages) == (record.total_pages or 0)
        # One scan serves both: every stored recipient is recomposed (those of swept badges
        # included), and the sweep picks the keys no page saw.
        keys = list(ctx.badges.keys(record.organization_id))
        # Badges of organisations removed from the settings go with any complete full crawl.
        orphans = list(ctx.badges.keys_outside(ctx.options.organizations))
        emails |= {key.email for key in keys + orphans}
        if complete:
            _sweep(ctx, record, pages, keys, orphans)
        stored = set(ctx.people.user_ids())
        users |= stored
    else:
        state = ctx.orgstate.get(record.organization_id)
        after = state.last_success_at or (record.created_at - EXPIRY_LOOKBACK)
        emails |= ctx.expiries.emails_expiring(record.organization_id, after, record.created_at)
    if record.dry_run:
        # What the dry run consumed: changed badges (swept ones included) and directory entries.
        remember_crawl(ctx, record)
    index = ctx.directory_index(record.directory_version)
    plan = plan_people(index, emails, users)
    if record.kind != FULL:
        return list(batch_messages(record.crawl_id, plan, ctx.options.batch_size))
    # A full crawl read every key and person above: its batches need not look again. The
    # crawl set holds the emails of rows swept since, so a redelivery plans the same batches.
    badge_emails = {key.email for key in keys} | set(members.emails)
    for organization_id in ctx.options.organizations:
        if organization_id != record.organization_id:
            badge_emails |= {key.email for key in ctx.badges.keys(organization_id)}
    known = StoredState(frozenset(badge_emails), frozenset(stored), ctx.badges.order)
    return list(known_batch_messages(record.crawl_id, plan, ctx.options.batch_size, index, known))


def _sweep(
    ctx: CrawlContext,
    record: CrawlRecord,
    pages: list[StepRecord],
    keys: list[BadgeKey],
    orphans: list[BadgeKey],
) -> None:
    """Forget the stored badges (`keys`) a complete full crawl did not see, and `orphans`.

    Only runs when every page succeeded: after a failed page, unseen does not mean gone.
    The recipients are remembered before any row is deleted, so a retry after a crash still
    recomposes them.
    """
    seen = {digest for page in pages for digest in page.seen}
    gone = [key for key in keys if key.digest() not in seen] + orphans
    if not gone:
        return
    ctx.crawlsets.add_emails(record.crawl_id, {key.email for key in gone})
    for key in gone:
        badge = ctx.badges.get(key)
        if badge is not None:
            ctx.expiries.forget(badge)
        ctx.badges.delete(key)
    previous = ctx.steps.get(record.crawl_id, STEP, 1)
    removed = len(gone) + (previous.counts.get("badges_removed", 0) if previous else 0)
    ctx.steps.put(StepRecord(record.crawl_id, STEP, 1, DONE, counts={"badges_removed": removed}))
    log.info(
        "%d badges no longer listed by Credly were removed",
        len(gone),
        extra={"crawl_id": record.crawl_id, "stage": "plan"},
    )
