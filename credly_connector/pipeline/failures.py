"""Ending a crawl as failed, from whichever stage found it could not go on."""

from __future__ import annotations

import logging

from credly_connector import telemetry
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.pending import remember_crawl
from credly_connector.pipeline.transitions import failed
from credly_connector.stores.crawls import CrawlRecord

log = logging.getLogger(__name__)


def fail_crawl(ctx: CrawlContext, record: CrawlRecord, stage: str, message: str) -> None:
    """Mark `record` failed in `stage` (unless it already ended) and release its lease.

    The people whose changes the crawl consumed join the organisation's pending set, so the
    next crawl recomposes them even though it finds their rows unchanged.
    """
    if not record.final:
        # Before the record says failed (a crash in between loses nothing): whatever this
        # crawl read but did not write is owed by the next crawl.
        remember_crawl(ctx, record)
    saved = ctx.crawls.update(
        record.crawl_id,
        lambda current: None if current.final else failed(current, stage, message, ctx.clock()),
    )
    if saved is not None:
        telemetry.crawl_ended(saved)  # only the call that saved the final status counts it
        log.error(
            "crawl failed in %s: %s",
            stage,
            message,
            extra={"crawl_id": record.crawl_id, "stage": stage},
        )
    ctx.leases.release(record.organization_id, record.crawl_id)


def describe(error: BaseException) -> str:
    """A one-line description of an error for a crawl record."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip()
