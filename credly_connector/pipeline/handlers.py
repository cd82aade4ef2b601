"""What every stage's handler does first and last: read its crawl, and fail it on the last try.

Each stage's handler opens and runs its work the same way:

    record = crawl_in(ctx, message.crawl_id, CrawlPhase.PLAN)
    if record is None:
        return  # no such crawl, an ended one, or one not yet in the stage's phase
    with failing_on_last(ctx, record, "plan", delivery):
        ...  # the stage's work; an error is raised again, so the queue delivers once more
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from credly_connector import telemetry
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.failures import describe, fail_crawl
from credly_connector.stores.crawls import CrawlPhase, CrawlRecord


def crawl_in(ctx: CrawlContext, crawl_id: str, phase: CrawlPhase) -> CrawlRecord | None:
    """The crawl a message names, when it has not ended and has reached `phase`; else None.

    The crawl's organisation labels the invocation's telemetry from here on.
    """
    record = ctx.crawls.get(crawl_id)
    if record is not None:
        telemetry.annotate(organization_id=record.organization_id)
    if record is None or record.final or not record.phase_at_least(phase):
        return None
    return record


@contextmanager
def failing_on_last(
    ctx: CrawlContext, record: CrawlRecord, stage: str, delivery: Delivery
) -> Iterator[None]:
    """Run a stage's work; a failure on the message's last delivery fails the crawl first.

    Raises:
        Exception: The work's failure, always, so the queue settles the message as failed.
    """
    try:
        yield
    except Exception as error:
        if delivery.final:
            fail_crawl(ctx, record, stage, describe(error))
        raise
