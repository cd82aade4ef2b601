"""Retrying a failed crawl: re-drive exactly its failed pages or profile batches.

A retry takes the organisation's lease back for the crawl, puts the crawl back to running in
the phase of its failed steps (one ETag-conditional write, so two retries at once re-drive
once), removes the crawl's messages still waiting in the poison queues, makes the failed
steps pending again and sends their messages. From there the pipeline carries on as usual:
the last settled step moves the crawl on, and the finish stage moves the watermark only if
every step now succeeded.

Page messages are rebuilt from the page number. A profile batch's users and emails came from
a plan that cannot be recomputed later (the people store and the directory have moved on
since, and the same plan decides the batch numbers), so the batch's message is kept on its
step record when an attempt fails, and sent again as it was.

A crash after the crawl record says running but before the messages are sent leaves a crawl
with nothing queued, as a crash after a new crawl's request does: its lease runs out, and the
next crawl of the organisation takes it over and marks this one failed (abandoned).
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from enum import StrEnum

from azure.core.exceptions import ResourceNotFoundError

from credly_connector.errors import BadDataError
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.launch import take_lease
from credly_connector.pipeline.messages import (
    PROFILES,
    STAGES,
    Message,
    PageMessage,
    ProfileMessage,
    decode,
)
from credly_connector.pipeline.transitions import redrive_phase, redriven
from credly_connector.stores.crawls import CrawlPhase, CrawlRecord, CrawlStatus
from credly_connector.stores.steps import StepKind, StepRecord

log = logging.getLogger(__name__)
# Poison messages looked at per queue; more than this means something else is badly wrong.
POISON_SCAN_LIMIT = 5000
# Long enough to finish scanning a poison queue before the first message reappears.
POISON_SCAN_VISIBILITY_S = 120


class RedriveOutcome(StrEnum):
    """What a retry did, or why it did nothing."""

    REDRIVEN = "redriven"
    NOT_FOUND = "not_found"
    NOT_FAILED = "not_failed"
    NOTHING_TO_REDRIVE = "nothing_to_redrive"
    NOT_REBUILDABLE = "not_rebuildable"
    NOT_CONFIGURED = "not_configured"
    BUSY = "busy"
    ALREADY_REDRIVEN = "already_redriven"


@dataclass(frozen=True)
class Redrive:
    """The answer of `redrive_crawl`.

    Attributes:
        record: The crawl as it stands afterwards (None when unknown).
        steps: The steps re-driven (`page-2`, `batch-5`...), or those that could not be.
        busy_with: The crawl holding the organisation's lease, when that stopped the retry.
        poison_removed: The crawl's messages taken out of the poison queues.
        detail: Why the failed steps cannot be re-driven, when they cannot.
    """

    outcome: RedriveOutcome
    record: CrawlRecord | None = None
    steps: tuple[str, ...] = ()
    busy_with: str | None = None
    poison_removed: int = 0
    detail: str = ""


@dataclass(frozen=True)
class _Plan:
    record: CrawlRecord
    phase: CrawlPhase
    steps: list[StepRecord]
    messages: list[Message]


def redrive_crawl(ctx: CrawlContext, crawl_id: str) -> Redrive:
    """Re-drive the failed pages or profile batches of failed crawl `crawl_id`."""
    plan = _plan(ctx, crawl_id)
    if isinstance(plan, Redrive):
        return plan
    record, phase, steps, messages = plan.record, plan.phase, plan.steps, plan.messages
    holder = _take_lease(ctx, record)
    if holder is not None:
        return Redrive(RedriveOutcome.BUSY, record, busy_with=holder)
    moved = redriven(record, phase)
    saved = ctx.crawls.save(moved) if moved is not None else None
    if saved is None:
        # Another retry got there first (it holds the lease under the same crawl id).
        current = ctx.crawls.get(crawl_id)
        if current is None or current.final:
            ctx.leases.release(record.organization_id, crawl_id)
        return Redrive(RedriveOutcome.ALREADY_REDRIVEN, current)
    removed = remove_poison(ctx, crawl_id)
    if phase == CrawlPhase.PAGES:
        ctx.steps.reset(crawl_id, steps, record.total_pages or 0)
        # The plan runs again, from its first slice, and numbers new batches.
        ctx.steps.discard(crawl_id, StepKind.BATCH)
        ctx.steps.discard(crawl_id, StepKind.PLAN)
    else:
        ctx.steps.reset(crawl_id, steps, record.total_batches or 0)
    ctx.queues.send_all(messages)
    # A step may already have moved the crawl on; then its own record says what is owed.
    ctx.crawls.save(saved.with_changes(followup_sent=True))
    keys = tuple(s.key for s in steps)
    log.info(
        "crawl re-driven in %s: %s (%d poison messages removed)",
        phase,
        ", ".join(keys),
        removed,
        extra={"crawl_id": crawl_id, "stage": phase},
    )
    return Redrive(RedriveOutcome.REDRIVEN, ctx.crawls.get(crawl_id), keys, poison_removed=removed)


def _plan(ctx: CrawlContext, crawl_id: str) -> _Plan | Redrive:
    """What to re-drive, or why nothing can be."""
    record = ctx.crawls.get(crawl_id)
    if record is None:
        return Redrive(RedriveOutcome.NOT_FOUND)
    if record.status != CrawlStatus.FAILED:
        return Redrive(RedriveOutcome.NOT_FAILED, record)
    failed = [s for s in ctx.steps.failed(crawl_id) if s.kind in (StepKind.PAGE, StepKind.BATCH)]
    phase = redrive_phase(failed)
    if phase is None:
        return Redrive(RedriveOutcome.NOTHING_TO_REDRIVE, record)
    kind = StepKind.PAGE if phase == CrawlPhase.PAGES else StepKind.BATCH
    steps = [s for s in failed if s.kind == kind]
    try:
        messages = redrive_messages(record, steps)
    except BadDataError as error:
        log.warning("%s", error, extra={"crawl_id": crawl_id})
        return Redrive(RedriveOutcome.NOT_REBUILDABLE, record, detail=str(error))
    if record.organization_id not in ctx.options.organizations:
        return Redrive(RedriveOutcome.NOT_CONFIGURED, record)
    return _Plan(record, phase, steps, messages)


def redrive_messages(record: CrawlRecord, steps: list[StepRecord]) -> list[Message]:
    """The messages that run `steps` again: pages by number, batches as they were kept.

    Raises:
        BadDataError: When a batch's kept message is missing or names another step.
    """
    messages: list[Message] = []
    for step in sorted(steps, key=lambda s: (s.kind, s.number)):
        if step.kind == StepKind.PAGE:
            messages.append(PageMessage(record.crawl_id, step.number))
            continue
        if not step.message:
            msg = f"{step.key} of crawl {record.crawl_id} kept no message to send again"
            raise BadDataError("no_message", msg)
        kept = decode(PROFILES, step.message, ProfileMessage)
        if (kept.crawl_id, kept.batch) != (record.crawl_id, step.number):
            msg = f"{step.key} of crawl {record.crawl_id} kept the message of another step"
            raise BadDataError("wrong_message", msg)
        messages.append(kept)
    return messages


def remove_poison(ctx: CrawlContext, crawl_id: str) -> int:
    """Delete the crawl's messages from every stage's poison queue; returns how many.

    Under the Functions host the poison triggers settle such messages as soon as they
    arrive; the local dispatcher leaves them there. Either way, one handled after the retry
    would run its step a second time, so they go before the steps are re-driven. Other
    crawls' messages are hidden while the queue is scanned and then shown again (which adds
    one to their dequeue count; the host's poison triggers take them long before that
    matters).
    """
    removed = 0
    for stage in STAGES:
        client = ctx.queues.client(stage, poison=True)
        held = []
        try:
            for message in client.receive_messages(
                messages_per_page=32, visibility_timeout=POISON_SCAN_VISIBILITY_S
            ):
                if _crawl_of(message.content) == crawl_id:
                    client.delete_message(message)
                    removed += 1
                else:
                    held.append(message)
                if removed + len(held) >= POISON_SCAN_LIMIT:
                    break
        except ResourceNotFoundError:
            continue  # this stage's poison queue was never created
        finally:
            for message in held:
                with contextlib.suppress(ResourceNotFoundError):
                    client.update_message(message, visibility_timeout=0)
    return removed


def _crawl_of(body: str) -> str | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    crawl_id = value.get("crawl_id") if isinstance(value, dict) else None
    return crawl_id if isinstance(crawl_id, str) else None


def _take_lease(ctx: CrawlContext, record: CrawlRecord) -> str | None:
    """Take the organisation's lease for the crawl; the other holder when it cannot."""
    outcome = take_lease(ctx, record.organization_id, record.crawl_id, "a retried crawl")
    if not outcome.acquired:
        holder = outcome.lease.holder if outcome.lease else ""
        # A retry of the same crawl at the same moment took it: the crawl record decides.
        return None if holder == record.crawl_id else holder
    return None
