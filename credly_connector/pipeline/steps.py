"""Running one page or batch step: checkpoint, failure on the last delivery, phase hand-over.

Pages and profile batches share one shape: do the work unless the step already settled,
settle the step's progress bit, and let the step that settles the last bit move the crawl to
the next phase and send its messages. Only that step's handler sends them, and a redelivery
of it sends them again if a crash came in between.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from credly_connector import telemetry
from credly_connector.errors import ConfigurationError
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.failures import describe
from credly_connector.pipeline.messages import Message, encode
from credly_connector.pipeline.transitions import advance, owes_followup
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.steps import DONE, FAILED, PENDING, StepRecord, step_key

log = logging.getLogger(__name__)
# The phase a kind of step runs in, and the phase its last step moves the crawl to.
PHASE_OF = {"page": ("pages", "plan"), "batch": ("profiles", "finish")}


def execute_step(
    ctx: CrawlContext,
    crawl_id: str,
    kind: str,
    number: int,
    delivery: Delivery,
    *,
    work: Callable[[CrawlRecord, bool], StepRecord],
    followups: Callable[[CrawlRecord], list[Message]],
    message: Message | None = None,
) -> None:
    """Do a step's work unless it settled already, then settle it and maybe move the crawl on.

    Messages of an ended crawl, of a crawl not yet in the step's phase, or for a step number
    outside the crawl's range are ignored.

    A failure on the last delivery, or a configuration error on any, settles the step as
    failed, so the crawl still completes (as failed) instead of waiting forever.

    Args:
        work: The step's work, given the crawl and whether this is the step's first attempt:
            its first delivery, with no record of an earlier attempt, retry or crash, so
            nothing the step writes can exist yet.
        message: The step's message, kept on its record when an attempt fails so that a
            retry of the crawl can send it again; None when the step number rebuilds it.

    Raises:
        Exception: The work's error, so the queue delivers the message again (or, on the last
            delivery, the host moves it to the poison queue).
    """
    record = ctx.crawls.get(crawl_id)
    if record is not None:
        telemetry.annotate(organization_id=record.organization_id)
    if record is None or record.final or not record.phase_at_least(PHASE_OF[kind][0]):
        return
    total = (record.total_pages if kind == "page" else record.total_batches) or 0
    if not 1 <= number <= total:
        log.warning("%s is outside 1..%d; ignored", step_key(kind, number), total)
        return
    existing = ctx.steps.get(record.crawl_id, kind, number)
    error: Exception | None = None
    if existing is None or not existing.settled:
        attempts = (existing.attempts if existing else 0) + 1
        try:
            # A planned step's record (a batch's, holding its message) has no attempt yet.
            untried = existing is None or existing.attempts == 0
            result = work(record, untried and delivery.dequeue_count <= 1)
        except ConfigurationError as config_error:
            # Credentials or settings: no retry can help, so the step fails now.
            ctx.steps.put(
                _failed(
                    ctx,
                    record,
                    kind,
                    number,
                    attempts=attempts,
                    error=config_error,
                    status=FAILED,
                    message=message,
                    earlier=existing,
                )
            )
        except Exception as work_error:
            ctx.steps.put(
                _failed(
                    ctx,
                    record,
                    kind,
                    number,
                    attempts=attempts,
                    error=work_error,
                    status=FAILED if delivery.final else PENDING,
                    message=message,
                    earlier=existing,
                )
            )
            log.warning(
                "%s failed (attempt %d): %s",
                step_key(kind, number),
                attempts,
                describe(work_error),
                extra={"crawl_id": record.crawl_id, "stage": PHASE_OF[kind][0]},
            )
            if not delivery.final:
                raise
            error = work_error
        else:
            # What earlier parts of the step did (one that ran out of time) counts too.
            counts, reasons = _summed(existing, result)
            if result.status == PENDING:
                # Out of time: the rest goes to a message of the same step, kept on it.
                ctx.steps.put(
                    replace(
                        result,
                        attempts=existing.attempts if existing else 0,
                        counts=counts,
                        reasons=reasons,
                    )
                )
                ctx.queues.send_text(PHASE_OF[kind][0], result.message)
                keep_lease(ctx, record)
                return
            ctx.steps.put(
                StepRecord(
                    record.crawl_id,
                    kind,
                    number,
                    DONE,
                    attempts,
                    counts=counts,
                    reasons=reasons,
                    finished_at=ctx.clock(),
                    # A planned batch keeps the message it ran (what the plan gave it).
                    message=existing.message if existing is not None else "",
                )
            )
    keep_lease(ctx, record)
    settle(ctx, record.crawl_id, kind, number, total=total, followups=followups)
    if error is not None:
        raise error


def _summed(
    existing: StepRecord | None, result: StepRecord
) -> tuple[dict[str, int], dict[str, int]]:
    """The step's counts and reasons: the result's plus those of its earlier parts."""
    counts = Counter(result.counts)
    reasons = Counter(result.reasons)
    if existing is not None:
        counts.update(existing.counts)
        reasons.update(existing.reasons)
    return dict(counts), dict(reasons)


def keep_lease(ctx: CrawlContext, record: CrawlRecord) -> None:
    """Extend the crawl's lease once half of it has run out (a long crawl keeps it).

    A lease this process saw running for more than half its length needs no read yet (one
    table operation fewer per page and batch).
    """
    now = ctx.clock()
    seen = ctx.leases.last_seen(record.organization_id)
    if (
        seen is not None
        and seen.holder == record.crawl_id
        and seen.expires_at - now >= ctx.options.lease / 2
    ):
        return
    lease = ctx.leases.current(record.organization_id)
    if lease is None or lease.holder != record.crawl_id:
        return
    if lease.expires_at - now < ctx.options.lease / 2:
        ctx.leases.renew(record.organization_id, record.crawl_id, now, ctx.options.lease)


def _failed(
    ctx: CrawlContext,
    record: CrawlRecord,
    kind: str,
    number: int,
    *,
    attempts: int,
    error: Exception,
    status: str,
    message: Message | None,
    earlier: StepRecord | None,
) -> StepRecord:
    return StepRecord(
        record.crawl_id,
        kind,
        number,
        status,
        attempts,
        # What earlier parts of the step did (one that ran out of time) still counts.
        counts=earlier.counts if earlier is not None else {},
        reasons=earlier.reasons if earlier is not None else {},
        error=describe(error),
        error_at=ctx.clock(),
        message="" if message is None else encode(message),
    )


def settle(
    ctx: CrawlContext,
    crawl_id: str,
    kind: str,
    number: int,
    *,
    total: int,
    followups: Callable[[CrawlRecord], list[Message]],
) -> None:
    """Settle the step's bit; the step that settles the last one moves the crawl on."""
    if not ctx.steps.settle(crawl_id, kind, number, total):
        return  # not the last step; only the last one (or its redelivery) moves the crawl on
    key = step_key(kind, number)
    current, following = PHASE_OF[kind]
    moved = ctx.crawls.update(crawl_id, lambda r: advance(r, current, following, key))
    if moved is not None:
        log.info(
            "all %d %ss settled; crawl moves to %s",
            total,
            kind,
            following,
            extra={"crawl_id": crawl_id, "stage": following},
        )
    record = moved or ctx.crawls.get(crawl_id)
    if record is not None and owes_followup(record, following, key):
        ctx.queues.send_all(followups(record))
        ctx.crawls.save(record.with_changes(followup_sent=True))
