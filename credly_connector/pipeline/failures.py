"""Ending a crawl as failed, from whichever stage found it could not go on."""

from __future__ import annotations

import logging

from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.transitions import failed
from credly_connector.stores.crawls import CrawlRecord

log = logging.getLogger(__name__)
_SAVE_ATTEMPTS = 5


def fail_crawl(ctx: CrawlContext, record: CrawlRecord, stage: str, message: str) -> None:
    """Mark `record` failed in `stage` (unless it already ended) and release its lease."""
    current: CrawlRecord | None = record
    for _ in range(_SAVE_ATTEMPTS):
        if current is None or current.final:
            break
        if ctx.crawls.save(failed(current, stage, message, ctx.clock())) is not None:
            log.error(
                "crawl failed in %s: %s",
                stage,
                message,
                extra={"crawl_id": record.crawl_id, "stage": stage},
            )
            break
        current = ctx.crawls.get(record.crawl_id)
    ctx.leases.release(record.organization_id, record.crawl_id)


def describe(error: BaseException) -> str:
    """A one-line description of an error for a crawl record."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip()
