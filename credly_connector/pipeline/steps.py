"""One delivery of a page's or batch's message: its attempt recorded, its step settled.

Pages and profile batches share one shape; the profile stage's handler reads top to bottom
(a page message runs one step per page it names, together: `pipeline/step_group.py`):

    run = begin_step(ctx, crawl_id, StepKind.BATCH, number, delivery)
    if run is None:
        return  # an ended crawl, one not yet in the step's phase, or a number out of range
    if run.due:
        with run.attempt():
            run.result = asyncio.run(compose_batch(ctx, run.crawl, message, first=run.first))
    run.finish([FinishMessage(crawl_id)])

The work runs unless the step already settled; `finish` records its result, settles the
step's progress bit, and the step that settles the last bit moves the crawl to the next phase
and sends its messages. Only that step's handler sends them, and a redelivery of it sends them
again if a crash came in between.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from credly_connector.errors import ConfigurationError
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.failures import describe
from credly_connector.pipeline.handlers import crawl_in
from credly_connector.pipeline.messages import Message, encode
from credly_connector.pipeline.transitions import advance, owes_followup
from credly_connector.stores.crawls import CrawlPhase, CrawlRecord
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus, step_key

log = logging.getLogger(__name__)
# The phase a kind of step runs in, and the phase its last step moves the crawl to.
PHASE_OF = {
    StepKind.PAGE: (CrawlPhase.PAGES, CrawlPhase.PLAN),
    StepKind.BATCH: (CrawlPhase.PROFILES, CrawlPhase.FINISH),
}


def begin_step(
    ctx: CrawlContext,
    crawl_id: str,
    kind: StepKind,
    number: int,
    delivery: Delivery,
    *,
    message: Message | None = None,
) -> StepRun | None:
    """The step a message runs, or None when the message is to be ignored.

    Messages of an ended crawl, of a crawl not yet in the step's phase, or for a step number
    outside the crawl's range are ignored.

    Args:
        ctx: The stores and queues.
        crawl_id: The crawl the step belongs to.
        kind: A page or a profile batch.
        number: The step's number (1-based).
        delivery: The message's delivery (its count, and whether it is the last).
        message: The step's message, kept on its record when an attempt fails so that a
            retry of the crawl can send it again; None when the step number rebuilds it.
    """
    record = crawl_in(ctx, crawl_id, PHASE_OF[kind][0])
    if record is None:
        return None
    total = (record.total_pages if kind == StepKind.PAGE else record.total_batches) or 0
    if not 1 <= number <= total:
        log.warning("%s is outside 1..%d; ignored", step_key(kind, number), total)
        return None
    earlier = ctx.steps.get(record.crawl_id, kind, number)
    return StepRun(ctx, record, kind, number, total, delivery, earlier, message)


@dataclass
class StepRun:
    """One delivery's run of a step: whether its work is due, and what became of it.

    Attributes:
        crawl: The crawl as read when the message arrived.
        total: How many steps of its kind the crawl has.
        earlier: The step's record from earlier attempts (or from the plan), if any.
        result: What the work returned: set by the stage inside `attempt`.
    """

    ctx: CrawlContext
    crawl: CrawlRecord
    kind: StepKind
    number: int
    total: int
    delivery: Delivery
    earlier: StepRecord | None
    message: Message | None = None
    result: StepRecord | None = None
    # The work's failure: raised once the step settled (the last delivery), or, when the
    # step is to run again (`retry`), once the other steps of its message are finished.
    error: Exception | None = field(default=None, init=False, repr=False)
    retry: bool = field(default=False, init=False)

    @property
    def due(self) -> bool:
        """Whether the step's work is to run (it has not settled yet)."""
        return self.earlier is None or not self.earlier.settled

    @property
    def first(self) -> bool:
        """Whether this is the step's first attempt: nothing it writes can exist yet.

        Its first delivery, with no record of an earlier attempt, retry or crash (a planned
        step's record, a batch's holding its message, has no attempt yet).
        """
        untried = self.earlier is None or self.earlier.attempts == 0
        return untried and self.delivery.dequeue_count <= 1

    @property
    def attempts(self) -> int:
        """The number of this attempt."""
        return (self.earlier.attempts if self.earlier else 0) + 1

    @contextmanager
    def attempt(self, *, defer: bool = False) -> Iterator[None]:
        """Run the step's work inside: a failure is recorded on the step's record (`fail`).

        Raises:
            Exception: A failure that leaves the step to run again, so the queue delivers the
                message again; with `defer`, kept for `finish_steps` to raise instead, once the
                message's other steps are finished.
        """
        try:
            yield
        except Exception as error:
            self.fail(error)
            if self.retry and not defer:
                raise

    def fail(self, error: Exception) -> None:
        """Record a failure of the step's work on its record.

        A configuration error (no retry can help), or any failure on the last delivery,
        settles the step as failed, so the crawl still completes (as failed) instead of
        waiting forever; `finish` raises the latter once the step is settled. Any other
        failure leaves the step to run again (`retry`).
        """
        config = isinstance(error, ConfigurationError)
        settles = config or self.delivery.final
        self.ctx.steps.put(self._failed(error, StepStatus.FAILED if settles else None))
        if not config:
            log.warning(
                "%s failed (attempt %d): %s",
                step_key(self.kind, self.number),
                self.attempts,
                describe(error),
                extra={"crawl_id": self.crawl.crawl_id, "stage": PHASE_OF[self.kind][0]},
            )
            self.error = error
            self.retry = not settles

    def finish(self, followups: Sequence[Message]) -> None:
        """Record the work's result, then settle the step and maybe move the crawl on.

        A result still pending (the work ran out of time) sends the rest to a message of
        the same step and settles nothing.

        Args:
            followups: The messages of the crawl's next phase, sent by the step that
                settles the last one (and by its redeliveries until they are sent).

        Raises:
            Exception: The work's failure on the last delivery, once the step settled.
        """
        handed_over = self.result is not None and self._record(self.result)
        keep_lease(self.ctx, self.crawl)
        if handed_over:
            return
        settle(
            self.ctx,
            self.crawl.crawl_id,
            self.kind,
            [self.number],
            total=self.total,
            followups=followups,
        )
        if self.error is not None:
            raise self.error

    def _record(self, result: StepRecord) -> bool:
        """Record a result; True when it hands the rest of the step to a new message."""
        self.ctx.steps.put(self.done_record(result))
        if result.status == StepStatus.PENDING:
            # Out of time: the rest goes to a message of the same step, kept on it.
            self.ctx.queues.send_text(PHASE_OF[self.kind][0], result.message)
            return True
        return False

    def done_record(self, result: StepRecord) -> StepRecord:
        """The step's record once its work returned `result`, with earlier parts' counts.

        A result still pending (out of time) keeps its message and this attempt uncounted.
        """
        # What earlier parts of the step did (one that ran out of time) counts too.
        counts = Counter(result.counts)
        reasons = Counter(result.reasons)
        if self.earlier is not None:
            counts.update(self.earlier.counts)
            reasons.update(self.earlier.reasons)
        if result.status == StepStatus.PENDING:
            return replace(
                result, attempts=self.attempts - 1, counts=dict(counts), reasons=dict(reasons)
            )
        return StepRecord(
            self.crawl.crawl_id,
            self.kind,
            self.number,
            StepStatus.DONE,
            self.attempts,
            counts=dict(counts),
            reasons=dict(reasons),
            finished_at=self.ctx.clock(),
            # A planned batch keeps the message it ran (what the plan gave it).
            message=self.earlier.message if self.earlier is not None else "",
        )

    def _failed(self, error: Exception, status: StepStatus | None) -> StepRecord:
        """The step's record after a failed attempt (`status` None: pending, to run again)."""
        earlier = self.earlier
        return StepRecord(
            self.crawl.crawl_id,
            self.kind,
            self.number,
            status or StepStatus.PENDING,
            self.attempts,
            # What earlier parts of the step did (one that ran out of time) still counts.
            counts=earlier.counts if earlier is not None else {},
            reasons=earlier.reasons if earlier is not None else {},
            error=describe(error),
            error_at=self.ctx.clock(),
            message="" if self.message is None else encode(self.message),
        )


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


def settle(
    ctx: CrawlContext,
    crawl_id: str,
    kind: StepKind,
    numbers: Sequence[int],
    *,
    total: int,
    followups: Sequence[Message],
    key: str | None = None,
) -> None:
    """Settle the steps' bits; the message that settles the last one moves the crawl on.

    `key` (by default the last step's) names the move (`advanced_by`), so only that
    message's deliveries send the followups.
    """
    if not ctx.steps.settle(crawl_id, kind, numbers, total):
        return  # not the last step; only the last one (or its redelivery) moves the crawl on
    key = key or step_key(kind, numbers[-1])
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
        ctx.queues.send_all(list(followups))
        ctx.crawls.save(record.with_changes(followup_sent=True))
