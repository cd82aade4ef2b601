"""A full crawl's plan, in slices: the walks run in order, then the planned batches are sent.

A full crawl recomposes everyone, so its plan walks stores that grow with the organisation.
It runs in slices, each a few seconds to `PipelineOptions.slice_s` long (far under the
function timeout), each handing the rest to the next slice's message (`PlanMessage`). Nothing
is held in memory but the slice's own rows. The walks (`pipeline/plan_walks.py`), in order:

1. `orphans`: rows of organisations no longer configured are swept (when every page
   succeeded), each marked gone first (`stores/seen.py`).
2. `badges`: the organisation's rows in key order, a chunk at a time. Rows no page of this
   crawl saw are marked gone and swept (when every page succeeded); the rows, swept ones
   included, are cut into range batches of about `batch_size` emails. A range batch
   recomposes the people its emails resolve to that have no item.
3. `people`: everyone with an item, in batches of users. After every sweep: anyone who gets
   an item after this walk got it from a composer that saw the sweeps, so a range batch
   that finds an item leaves its person to the people batches (or to that composer). When
   nobody has an item (a first crawl), range batches are sent `fresh`: they recompose
   everyone they find, without reading their rows first.
4. `send`: the crawl moves to the profile phase with its number of batches, and the batches'
   messages, kept on their step records as they were planned, are sent.

Each slice records a checkpoint holding the next slice's message: a slice delivered again
after it finished only sends that message again, and one that crashed runs again from its
own message (its batches overwrite what it had planned).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.messages import (
    PLAN,
    PROFILES,
    FinishMessage,
    PlanMessage,
    ProfileMessage,
    decode,
    encode,
)
from credly_connector.pipeline.pending import remember_crawl, take_pending
from credly_connector.pipeline.plan_walks import (
    PlanPart,
    PlanSlice,
    walk_badges,
    walk_orphans,
    walk_people,
)
from credly_connector.pipeline.transitions import advance
from credly_connector.stores.crawls import CrawlPhase, CrawlRecord
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus

log = logging.getLogger(__name__)


def plan_slice(ctx: CrawlContext, record: CrawlRecord, message: PlanMessage) -> None:
    """Run one slice of a full crawl's plan (idempotent), and send the next slice's message."""
    number = max(message.slice, 1)
    part = message.part or PlanPart.ORPHANS
    if record.phase != CrawlPhase.PLAN and part != PlanPart.SEND:
        return  # a late copy of a slice: the plan went on without it
    checkpoint = ctx.steps.get(record.crawl_id, StepKind.PLAN, number)
    if checkpoint is not None and checkpoint.status == StepStatus.DONE:
        # It ran; unless its successor did too, a crash may have come before it was sent.
        if checkpoint.message and ctx.steps.get(record.crawl_id, StepKind.PLAN, number + 1) is None:
            ctx.queues.send_text(PLAN, checkpoint.message)
        return
    sweep, fresh = message.sweep, message.fresh
    if message.slice == 0:
        take_pending(ctx, record)
        sweep = _pages_complete(ctx, record)
    work = PlanSlice(
        record.crawl_id,
        part,
        message.after,
        message.batch,
        sweep,
        fresh,
        deadline=time.monotonic() + ctx.options.slice_s,
    )
    finished = _walk(ctx, record, work)
    # The batches first, each with its message, then the checkpoint naming the next slice.
    _keep_batches(ctx, work)
    following = None if finished else work.next_message(number)
    ctx.steps.put(
        StepRecord(
            record.crawl_id,
            StepKind.PLAN,
            number,
            StepStatus.DONE,
            counts=dict(work.counts),
            finished_at=ctx.clock(),
            message="" if following is None else encode(following),
        )
    )
    if following is not None:
        ctx.queues.send(following)


def _keep_batches(ctx: CrawlContext, work: PlanSlice) -> None:
    """Store the batches planned so far, each step record holding its message."""
    ctx.steps.put_many(
        StepRecord(work.crawl_id, StepKind.BATCH, m.batch, message=encode(m)) for m in work.batches
    )
    work.batches.clear()


def _pages_complete(ctx: CrawlContext, record: CrawlRecord) -> bool:
    """Whether every page succeeded: only then does unseen mean gone from Credly."""
    pages = ctx.steps.records(record.crawl_id, StepKind.PAGE)
    done = sum(1 for page in pages if page.status == StepStatus.DONE)
    return done == (record.total_pages or 0)


Walk = Callable[[CrawlContext, CrawlRecord, PlanSlice], bool]


def _walk(ctx: CrawlContext, record: CrawlRecord, work: PlanSlice) -> bool:
    """Walk from where the slice starts until its time is up; True once the plan is sent."""
    walks: dict[str, Walk] = {
        PlanPart.ORPHANS: walk_orphans,
        PlanPart.BADGES: walk_badges,
        PlanPart.PEOPLE: walk_people,
        PlanPart.SEND: _send_batches,
    }
    following: dict[str, str] = {
        PlanPart.ORPHANS: PlanPart.BADGES,
        PlanPart.BADGES: PlanPart.PEOPLE,
        PlanPart.PEOPLE: PlanPart.SEND,
    }
    while True:
        if walks[work.part](ctx, record, work):
            if work.part == PlanPart.SEND:
                return True
            if work.part == PlanPart.PEOPLE and record.dry_run:
                remember_crawl(ctx, record)  # what the dry run consumed, sweeps included
            work.part, work.after = following[work.part], ""
            if work.part == PlanPart.SEND:
                _keep_batches(ctx, work)  # what the send part reads
        if work.out_of_time():
            return False


def _send_batches(ctx: CrawlContext, record: CrawlRecord, work: PlanSlice) -> bool:
    """Move the crawl to its profile phase, then send the planned batches; True once all are."""
    total = work.batch - 1
    current = ctx.crawls.get(record.crawl_id) or record
    if current.phase == CrawlPhase.PLAN:
        # The badge walk marked every email with rows it found unmarked; later rows are
        # marked by their writers.
        ctx.badges.marks.mark_complete(record.organization_id)
        saved = to_batches(ctx, record, total)
        if saved is None:
            return True  # cancelled meanwhile: the cancel kept what the crawl consumed
        current = saved
    if current.final or current.followup_sent or current.advanced_by != StepKind.PLAN:
        return True
    if not total:
        ctx.queues.send(FinishMessage(record.crawl_id))
    first = int(work.after or 0) + 1
    for step in ctx.steps.records(record.crawl_id, StepKind.BATCH, first):
        if step.number > total:
            break
        if step.message:
            ctx.queues.send_text(PROFILES, _sent(step.message, fresh=work.fresh))
        work.after = str(step.number)
        if work.out_of_time() and step.number < total:
            return False
    ctx.crawls.save(current.with_changes(followup_sent=True))
    return True


def _sent(body: str, *, fresh: bool) -> str:
    """A planned batch's message as sent: a range batch learns whether anyone had an item."""
    if not fresh:
        return body
    message = decode(PROFILES, body, ProfileMessage)
    return encode(replace(message, fresh=True)) if message.span else body


def to_batches(ctx: CrawlContext, record: CrawlRecord, batches: int) -> CrawlRecord | None:
    """Move the crawl from its plan to its `batches` profile batches (to its finish if none).

    Returns:
        The saved record, or None when the crawl left its plan phase meanwhile (cancelled,
        failed, or moved on by another run of the plan).
    """

    def to_next_phase(latest: CrawlRecord) -> CrawlRecord | None:
        following = CrawlPhase.PROFILES if batches else CrawlPhase.FINISH
        moved = advance(latest, CrawlPhase.PLAN, following, StepKind.PLAN)
        return None if moved is None else moved.with_changes(total_batches=batches)

    saved = ctx.crawls.update(record.crawl_id, to_next_phase)
    if saved is not None:
        log.info(
            "%d profile batches planned",
            batches,
            extra={"crawl_id": record.crawl_id, "stage": "plan", "batches": batches},
        )
    return saved
