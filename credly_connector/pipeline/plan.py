"""Stage 3: once every page settled, sweep gone badges (full crawls) and plan the profile batches.

An incremental crawl plans the people whose badges or directory entry changed, and whose
badges expired, in one invocation: a day's changes. A full crawl recomposes everyone: its
plan runs in slices (`pipeline/full_plan.py`), walking the stores (`pipeline/plan_walks.py`).
"""

from __future__ import annotations

from datetime import timedelta

from credly_connector.pipeline.batching import batch_messages, plan_people
from credly_connector.pipeline.cancel import ended_unsuccessfully
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.full_plan import plan_slice, to_batches
from credly_connector.pipeline.handlers import crawl_in, failing_on_last
from credly_connector.pipeline.messages import FinishMessage, PlanMessage, ProfileMessage
from credly_connector.pipeline.pending import remember_crawl, take_pending
from credly_connector.pipeline.transitions import owes_followup
from credly_connector.stores.crawls import CrawlKind, CrawlPhase, CrawlRecord
from credly_connector.stores.steps import StepKind

# An incremental crawl with no earlier success looks this far back for expired badges.
EXPIRY_LOOKBACK = timedelta(days=2)


def handle_plan(ctx: CrawlContext, message: PlanMessage, delivery: Delivery) -> None:
    """Run the plan stage: an incremental crawl's plan, or one slice of a full one (idempotent)."""
    record = crawl_in(ctx, message.crawl_id, CrawlPhase.PLAN)
    if record is None:
        return
    with failing_on_last(ctx, record, "plan", delivery):
        if record.kind == CrawlKind.FULL:
            plan_slice(ctx, record, message)
        else:
            _incremental(ctx, record)


def _incremental(ctx: CrawlContext, record: CrawlRecord) -> None:
    if record.phase != CrawlPhase.PLAN:
        following = (CrawlPhase.PROFILES, CrawlPhase.FINISH)
        if any(owes_followup(record, phase, StepKind.PLAN) for phase in following):
            _send(ctx, record, _incremental_messages(ctx, record))
        return
    messages = _incremental_messages(ctx, record)
    # Re-read on a conflict: the step that sent the plan message may still be saving the
    # record (its `followup_sent`); only another plan run having moved the crawl ends here.
    saved = to_batches(ctx, record, len(messages))
    if saved is None:
        # Cancelled (or failed) meanwhile: what this plan took stays owed.
        ended = ended_unsuccessfully(ctx, record.crawl_id)
        if ended is not None:
            remember_crawl(ctx, ended)
        return
    _send(ctx, saved, messages)


def _send(ctx: CrawlContext, record: CrawlRecord, messages: list[ProfileMessage]) -> None:
    ctx.queues.send_all(messages or [FinishMessage(record.crawl_id)])
    ctx.crawls.save(record.with_changes(followup_sent=True))


def _incremental_messages(ctx: CrawlContext, record: CrawlRecord) -> list[ProfileMessage]:
    """The profile messages of an incremental crawl, computed from the stores."""
    take_pending(ctx, record)
    members = ctx.crawlsets.members(record.crawl_id)
    state = ctx.orgstate.get(record.organization_id)
    after = state.last_success_at or (record.created_at - EXPIRY_LOOKBACK)
    emails = set(members.emails)
    emails |= ctx.expiries.emails_expiring(record.organization_id, after, record.created_at)
    if record.dry_run:
        remember_crawl(ctx, record)  # what the dry run consumed
    plan = plan_people(ctx.directory_index(record.directory_version), emails, members.user_ids)
    return batch_messages(record.crawl_id, plan, ctx.options.batch_size)
