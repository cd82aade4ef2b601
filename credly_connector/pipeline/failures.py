"""Ending a crawl as failed, from whichever stage found it could not go on."""

from __future__ import annotations

import logging

from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.transitions import failed
from credly_connector.stores.crawls import CrawlRecord

log = logging.getLogger(__name__)


def fail_crawl(ctx: CrawlContext, record: CrawlRecord, stage: str, message: str) -> None:
    """Mark `record` failed in `stage` (unless it already ended) and release its lease."""
    saved = ctx.crawls.update(
        record.crawl_id,
        lambda current: None if current.final else failed(current, stage, message, ctx.clock()),
    )
    if saved is not None:
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
