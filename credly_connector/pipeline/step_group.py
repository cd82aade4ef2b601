"""Several steps run by one message: one read of the crawl, one checkpoint write, one settle.

A page message names a few consecutive pages. Each page stays a step of its own (its
record, its progress bit, its failure, its retry), but the message reads the crawl and their
records once, and records and settles the pages that finished together:

    runs = begin_steps(ctx, crawl_id, StepKind.PAGE, message.numbers, delivery)
    for run in runs:
        if run.due:
            with run.attempt(defer=True):
                ...  # the page's own work; a failure stays on its run
    finish_steps(runs, [PlanMessage(crawl_id)])

A step whose work failed and is to run again is neither recorded done nor settled:
`finish_steps` raises its failure once the others are, so the queue delivers the message
again and only that step is still due.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.handlers import crawl_in
from credly_connector.pipeline.messages import Message
from credly_connector.pipeline.steps import PHASE_OF, StepRun, keep_lease, settle
from credly_connector.stores.steps import StepKind, StepStatus, step_key

log = logging.getLogger(__name__)


def begin_steps(
    ctx: CrawlContext, crawl_id: str, kind: StepKind, numbers: range, delivery: Delivery
) -> list[StepRun]:
    """The runs of steps `numbers` a message names; none when the message is to be ignored.

    As `begin_step`, for consecutive steps: the crawl and the steps' records are read once.
    Numbers outside the crawl's range are left out (and logged).
    """
    record = crawl_in(ctx, crawl_id, PHASE_OF[kind][0])
    if record is None:
        return []
    total = (record.total_pages if kind == StepKind.PAGE else record.total_batches) or 0
    inside = range(max(numbers.start, 1), min(numbers.stop, total + 1))
    if len(inside) < len(numbers):
        first, last = step_key(kind, numbers.start), numbers.stop - 1
        log.warning("%s..%d is not all inside 1..%d", first, last, total)
    if not inside:
        return []
    earlier = ctx.steps.between(record.crawl_id, kind, inside[0], inside[-1])
    return [
        StepRun(ctx, record, kind, number, total, delivery, earlier.get(number))
        for number in inside
    ]


@contextmanager
def shared_attempt(runs: Sequence[StepRun]) -> Iterator[None]:
    """Run work the steps share inside: its failure is every one of them's (deferred)."""
    try:
        yield
    except Exception as error:
        for run in runs:
            run.fail(error)


def finish_steps(runs: Sequence[StepRun], followups: Sequence[Message]) -> None:
    """Record the finished steps' results in one write, then settle them together.

    Steps still to run again are left as their failure recorded them.

    Raises:
        Exception: The first step's failure, once the others are settled.
    """
    if not runs:
        return
    first = runs[0]
    ctx, crawl = first.ctx, first.crawl
    settling = [run for run in runs if not run.retry]
    records = [run.done_record(run.result) for run in settling if run.result is not None]
    if any(record.status == StepStatus.PENDING for record in records):
        raise ValueError("steps run by one message cannot hand their rest to another")
    if records:
        ctx.steps.put_many(records)
    keep_lease(ctx, crawl)
    if settling:
        settle(
            ctx,
            crawl.crawl_id,
            first.kind,
            [run.number for run in settling],
            total=first.total,
            followups=followups,
            key=step_key(first.kind, runs[-1].number),
        )
    failures = [run.error for run in runs if run.error is not None]
    if failures:
        raise failures[0]
