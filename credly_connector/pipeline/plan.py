"""Stage 3: once every page settled, sweep gone badges (full crawls) and plan the profile batches.

An incremental crawl plans the people whose badges or directory entry changed, and whose
badges expired, in one invocation: a day's changes.

A full crawl recomposes everyone, so its plan walks stores that grow with the organisation.
It runs in slices, each a few seconds to `PipelineOptions.slice_s` long (far under the
function timeout), each handing the rest to the next slice's message (`PlanMessage`). Nothing
is held in memory but the slice's own rows. The walks, in order:

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

Each slice records a checkpoint holding the next slice's
message: a slice delivered again after it finished only sends that message again, and one
that crashed runs again from its own message (its batches overwrite what it had planned).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta

from credly_connector import telemetry
from credly_connector.pipeline.batching import batch_messages, plan_people
from credly_connector.pipeline.cancel import ended_unsuccessfully
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.failures import describe, fail_crawl
from credly_connector.pipeline.messages import (
    MAX_JSON_BYTES,
    PLAN,
    PROFILES,
    FinishMessage,
    PlanMessage,
    ProfileMessage,
    decode,
    encode,
)
from credly_connector.pipeline.pending import remember_crawl, take_pending
from credly_connector.pipeline.transitions import advance, owes_followup
from credly_connector.stores.badges import BadgeKey, BadgeStore
from credly_connector.stores.crawls import FULL, CrawlRecord
from credly_connector.stores.steps import BATCH, DONE, PAGE, StepRecord

log = logging.getLogger(__name__)
# The plan step: what moved the crawl on (`advanced_by`) and the kind of its checkpoints.
STEP = "plan"
# An incremental crawl with no earlier success looks this far back for expired badges.
EXPIRY_LOOKBACK = timedelta(days=2)
ORPHANS, BADGES, PEOPLE, SEND = "orphans", "badges", "people", "send"
# Rows read, checked and swept together (one query page).
CHUNK_ROWS = 1000
# Swept rows deleted side by side.
SWEEP_THREADS = 8
# Room in a range batch's message for the emails of its swept rows.
GONE_EMAIL_BYTES = MAX_JSON_BYTES // 2


def handle_plan(ctx: CrawlContext, message: PlanMessage, delivery: Delivery) -> None:
    """Run one slice of the plan stage (idempotent)."""
    record = ctx.crawls.get(message.crawl_id)
    if record is not None:
        telemetry.annotate(organization_id=record.organization_id)
    if record is None or record.final or not record.phase_at_least("plan"):
        return
    try:
        if record.kind == FULL:
            _full_slice(ctx, record, message)
        else:
            _incremental(ctx, record)
    except Exception as error:
        if delivery.final:
            fail_crawl(ctx, record, "plan", describe(error))
        raise


# -- incremental crawls: one invocation ---------------------------------------------------


def _incremental(ctx: CrawlContext, record: CrawlRecord) -> None:
    if record.phase != "plan":
        if owes_followup(record, "profiles", STEP) or owes_followup(record, "finish", STEP):
            _send(ctx, record, _incremental_messages(ctx, record))
        return
    messages = _incremental_messages(ctx, record)
    batches = len(messages)

    def to_next_phase(current: CrawlRecord) -> CrawlRecord | None:
        moved = advance(current, "plan", "profiles" if batches else "finish", STEP)
        return None if moved is None else moved.with_changes(total_batches=batches)

    # Re-read on a conflict: the step that sent the plan message may still be saving the
    # record (its `followup_sent`); only another plan run having moved the crawl ends here.
    saved = ctx.crawls.update(record.crawl_id, to_next_phase)
    if saved is None:
        # Cancelled (or failed) meanwhile: what this plan took stays owed.
        ended = ended_unsuccessfully(ctx, record.crawl_id)
        if ended is not None:
            remember_crawl(ctx, ended)
        return
    _log_planned(record, batches)
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


# -- full crawls: slices -------------------------------------------------------------------


@dataclass
class _Slice:
    """What one slice of a full crawl's plan did: its batches, counts and where it stopped."""

    crawl_id: str
    part: str
    after: str
    batch: int
    sweep: bool
    fresh: bool
    deadline: float
    batches: list[ProfileMessage] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def planned(self, message: ProfileMessage) -> None:
        self.batches.append(message)
        self.batch += 1

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    def next_message(self, number: int) -> PlanMessage:
        return PlanMessage(
            self.crawl_id, number + 1, self.part, self.after, self.batch, self.sweep, self.fresh
        )


def _full_slice(ctx: CrawlContext, record: CrawlRecord, message: PlanMessage) -> None:
    number = max(message.slice, 1)
    part = message.part or ORPHANS
    if record.phase != "plan" and part != SEND:
        return  # a late copy of a slice: the plan went on without it
    checkpoint = ctx.steps.get(record.crawl_id, STEP, number)
    if checkpoint is not None and checkpoint.status == DONE:
        # It ran; unless its successor did too, a crash may have come before it was sent.
        if checkpoint.message and ctx.steps.get(record.crawl_id, STEP, number + 1) is None:
            ctx.queues.send_text(PLAN, checkpoint.message)
        return
    sweep, fresh = message.sweep, message.fresh
    if message.slice == 0:
        take_pending(ctx, record)
        sweep = _pages_complete(ctx, record)
    work = _Slice(
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
            STEP,
            number,
            DONE,
            counts=dict(work.counts),
            finished_at=ctx.clock(),
            message="" if following is None else encode(following),
        )
    )
    if following is not None:
        ctx.queues.send(following)


def _keep_batches(ctx: CrawlContext, work: _Slice) -> None:
    """Store the batches planned so far, each step record holding its message."""
    ctx.steps.put_many(
        StepRecord(work.crawl_id, BATCH, m.batch, message=encode(m)) for m in work.batches
    )
    work.batches.clear()


def _pages_complete(ctx: CrawlContext, record: CrawlRecord) -> bool:
    """Whether every page succeeded: only then does unseen mean gone from Credly."""
    done = sum(1 for page in ctx.steps.records(record.crawl_id, PAGE) if page.status == DONE)
    return done == (record.total_pages or 0)


def _walk(ctx: CrawlContext, record: CrawlRecord, work: _Slice) -> bool:
    """Walk from where the slice starts until its time is up; True once the plan is sent."""
    walks = {ORPHANS: _orphans, BADGES: _badges, PEOPLE: _people, SEND: _send_batches}
    following = {ORPHANS: BADGES, BADGES: PEOPLE, PEOPLE: SEND}
    while True:
        if walks[work.part](ctx, record, work):
            if work.part == SEND:
                return True
            if work.part == PEOPLE and record.dry_run:
                remember_crawl(ctx, record)  # what the dry run consumed, sweeps included
            work.part, work.after = following[work.part], ""
            if work.part == SEND:
                _keep_batches(ctx, work)  # what the send part reads
        if work.out_of_time():
            return False


def _orphans(ctx: CrawlContext, record: CrawlRecord, work: _Slice) -> bool:
    """Sweep a chunk of the rows of organisations no longer configured; True when none left.

    Their emails are marked gone, so the badge walk puts them in range batches (an email
    nobody owns gets its decisions recorded again) and their people are in people batches.
    """
    if not work.sweep:
        return True
    chunk = list(itertools.islice(ctx.badges.keys_outside(ctx.options.organizations), CHUNK_ROWS))
    _sweep(ctx, record, chunk)
    return len(chunk) < CHUNK_ROWS


def _sweep(ctx: CrawlContext, record: CrawlRecord, gone: list[BadgeKey]) -> None:
    """Forget rows: their recipients remembered and their marks written before any delete."""
    if not gone:
        return
    ctx.crawlsets.add_emails(record.crawl_id, {key.email for key in gone}, group="sweep")
    ctx.seen.mark_gone(record.crawl_id, [k.row_key() for k in gone], [k.email for k in gone])

    def forget(key: BadgeKey) -> None:
        badge = ctx.badges.get(key)
        if badge is not None:
            ctx.expiries.forget(badge)
        ctx.badges.delete(key)

    with ThreadPoolExecutor(min(SWEEP_THREADS, len(gone)), thread_name_prefix="sweep") as pool:
        list(pool.map(forget, gone))
    log.info(
        "%d badges no longer listed by Credly were removed",
        len(gone),
        extra={"crawl_id": record.crawl_id, "stage": "plan"},
    )


@dataclass
class _Row:
    key: str
    email: str
    gone: bool


def _rows(ctx: CrawlContext, record: CrawlRecord, start: str) -> Iterator[_Row]:
    """The organisation's rows and the crawl's gone marks from row key `start`, merged."""
    stored = (
        _Row(key.row_key(), key.email, gone=False)
        for key in ctx.badges.keys(record.organization_id, start)
    )
    marked = (
        _Row(key, email, gone=True) for key, email in ctx.seen.gone_between(record.crawl_id, start)
    )
    last = ""
    for row in heapq.merge(marked, stored, key=lambda r: r.key):
        if row.key != last:  # marked gone but not deleted yet (a crash between): gone
            last = row.key
            yield row


@dataclass
class _Cut:
    """The open range batch of the badge walk: where it starts and what it holds so far."""

    start: str
    emails: int = 0
    last_email: str = ""
    gone: list[str] = field(default_factory=list)
    gone_bytes: int = 0
    gone_rows: int = 0


def _badges(ctx: CrawlContext, record: CrawlRecord, work: _Slice) -> bool:
    """Sweep and cut the organisation's rows into range batches; True at the walk's end.

    A slice stops only where a batch ends, so the next one starts a fresh batch there.
    """
    cut = _Cut(work.after)
    rows = _rows(ctx, record, work.after)
    while True:
        chunk = list(itertools.islice(rows, CHUNK_ROWS))
        # A fresh crawl found none of the organisation's rows stored: every row is one its
        # pages (or a webhook since) wrote, and nothing is swept.
        if work.sweep and not record.fresh:
            chunk = _swept(ctx, record, chunk)
        for row in chunk:
            if row.email != cut.last_email:
                if cut.emails >= ctx.options.batch_size or cut.gone_bytes >= GONE_EMAIL_BYTES:
                    boundary = BadgeStore.row_prefix(row.email)
                    _close(work, cut, boundary)
                    cut = _Cut(boundary)
                    if work.out_of_time():
                        work.after = boundary
                        return False
                cut.emails += 1
                cut.last_email = row.email
                if row.gone:
                    cut.gone.append(row.email)
                    cut.gone_bytes += len(row.email.encode()) + 3
            elif row.gone and (not cut.gone or cut.gone[-1] != row.email):
                cut.gone.append(row.email)
                cut.gone_bytes += len(row.email.encode()) + 3
            cut.gone_rows += int(row.gone)
        if len(chunk) < CHUNK_ROWS:
            if cut.emails:
                _close(work, cut, "")
            work.after = ""
            return True


def _swept(ctx: CrawlContext, record: CrawlRecord, chunk: list[_Row]) -> list[_Row]:
    """The chunk with the stored rows no page of the crawl saw swept (and marked gone)."""
    present = [row for row in chunk if not row.gone]
    if not present:
        return chunk
    seen = ctx.seen.seen_between(record.crawl_id, present[0].key, present[-1].key)
    unseen = [row for row in present if row.key not in seen]
    if not unseen:
        return chunk
    _sweep(ctx, record, [BadgeKey.from_row(record.organization_id, row.key) for row in unseen])
    gone = {row.key for row in unseen}
    return [replace(row, gone=True) if row.key in gone else row for row in chunk]


def _close(work: _Slice, cut: _Cut, stop: str) -> None:
    work.planned(
        ProfileMessage(work.crawl_id, work.batch, emails=tuple(cut.gone), span=(cut.start, stop))
    )
    work.counts["badges_removed"] += cut.gone_rows


def _people(ctx: CrawlContext, record: CrawlRecord, work: _Slice) -> bool:
    """Batch the next people with an item; True once every one is in a batch."""
    people = ctx.people.user_ids(work.after)
    while True:
        users = tuple(itertools.islice(people, ctx.options.batch_size))
        if not users and not work.after:
            work.fresh = True  # nobody has an item: the range batches own everyone
        if users:
            work.planned(ProfileMessage(work.crawl_id, work.batch, user_ids=users))
            work.after = users[-1]
        if len(users) < ctx.options.batch_size:
            return True
        if work.out_of_time():
            return False


def _send_batches(ctx: CrawlContext, record: CrawlRecord, work: _Slice) -> bool:
    """Move the crawl to its profile phase, then send the planned batches; True once all are."""
    total = work.batch - 1
    current = ctx.crawls.get(record.crawl_id) or record
    if current.phase == "plan":

        def to_next_phase(latest: CrawlRecord) -> CrawlRecord | None:
            moved = advance(latest, "plan", "profiles" if total else "finish", STEP)
            return None if moved is None else moved.with_changes(total_batches=total)

        saved = ctx.crawls.update(record.crawl_id, to_next_phase)
        if saved is None:
            return True  # cancelled meanwhile: the cancel kept what the crawl consumed
        _log_planned(record, total)
        current = saved
    if current.final or current.followup_sent or current.advanced_by != STEP:
        return True
    if not total:
        ctx.queues.send(FinishMessage(record.crawl_id))
    first = int(work.after or 0) + 1
    for step in ctx.steps.records(record.crawl_id, BATCH, first):
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


def _log_planned(record: CrawlRecord, batches: int) -> None:
    log.info(
        "%d profile batches planned",
        batches,
        extra={"crawl_id": record.crawl_id, "stage": "plan", "batches": batches},
    )
