"""Stage 5: total the counts, move the watermark only after a full success, end the crawl."""

from __future__ import annotations

import logging

from azure.core.exceptions import AzureError

from credly_connector import telemetry
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.handlers import crawl_in, failing_on_last
from credly_connector.pipeline.messages import FinishMessage
from credly_connector.pipeline.pending import clear_pending, remember_crawl
from credly_connector.pipeline.retention import prune
from credly_connector.pipeline.transitions import after_success, finished
from credly_connector.stores.crawls import CrawlPhase, CrawlRecord, CrawlStatus
from credly_connector.stores.steps import StepKind

log = logging.getLogger(__name__)


def handle_finish(ctx: CrawlContext, message: FinishMessage, delivery: Delivery) -> None:
    """Run the finish stage (idempotent: an ended crawl is left as it is)."""
    record = crawl_in(ctx, message.crawl_id, CrawlPhase.FINISH)
    if record is None:
        return
    with failing_on_last(ctx, record, "finish", delivery):
        finish(ctx, record)


def finish(ctx: CrawlContext, record: CrawlRecord) -> CrawlRecord | None:
    """End `record`: succeeded only when every page and batch succeeded."""
    steps = [
        *ctx.steps.records(record.crawl_id, StepKind.PAGE),
        *ctx.steps.records(record.crawl_id, StepKind.PLAN),
        *ctx.steps.records(record.crawl_id, StepKind.BATCH),
    ]
    missing_pages = (record.total_pages or 0) - sum(1 for s in steps if s.kind == StepKind.PAGE)
    missing_batches = (record.total_batches or 0) - sum(
        1 for s in steps if s.kind == StepKind.BATCH
    )
    if missing_pages or missing_batches:
        msg = f"{missing_pages} pages and {missing_batches} batches have no checkpoint"
        raise RuntimeError(msg)

    if finished(record, steps, ctx.clock()).status != CrawlStatus.SUCCEEDED:
        # Before the record says failed, so a crash in between cannot lose the people this
        # crawl read but did not write: the next crawl owes them (idempotent).
        remember_crawl(ctx, record)

    def end(current: CrawlRecord) -> CrawlRecord | None:
        if current.final:
            return None
        ended = finished(current, steps, ctx.clock())
        # A dry run changed nothing in Graph, so the organisation's state stays as it is.
        if ended.status == CrawlStatus.SUCCEEDED and not ended.dry_run:
            # The watermark moves before the record says succeeded: a crash in between
            # leaves a crawl that finishes again, never a success with an old watermark.
            # Moving it twice is harmless (it never moves backwards).
            state = ctx.orgstate.get(record.organization_id)
            ctx.orgstate.put(after_success(state, ended))
        return ended

    saved = ctx.crawls.update(record.crawl_id, end)
    if saved is not None:
        telemetry.crawl_ended(saved)  # only the call that saved the final status counts it
        if saved.status == CrawlStatus.SUCCEEDED and not saved.dry_run:
            clear_pending(ctx, saved)  # under the lease: no dry run adds to the set meanwhile
        ctx.leases.release(record.organization_id, record.crawl_id)
        if saved.status == CrawlStatus.SUCCEEDED:
            # The plan, the only reader, is done (a failed crawl may be retried: it keeps
            # its marks until housekeeping).
            ctx.seen.drop(record.crawl_id)
        log.info(
            "crawl %s: %s",
            saved.status,
            saved.counts,
            extra={"crawl_id": record.crawl_id, "stage": "finish", "status": saved.status},
        )
        try:
            prune(ctx, record.organization_id, ctx.clock())
        except AzureError as error:  # housekeeping: the next crawl's finish tries again
            log.warning("housekeeping failed: %s", error, extra={"stage": "finish"})
    return saved
