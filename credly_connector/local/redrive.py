"""`python -m credly_connector retry`: re-drive a failed crawl and run it to its end here.

The retry itself is the same core call as `POST ops/crawls/{id}/retry`; afterwards, unless
told not to wait, the re-sent messages are drained on this machine the way `crawl` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from credly_connector.local.crawl import LocalCrawl, drive
from credly_connector.ops.answers import Answer
from credly_connector.ops.crawls import retry_crawl
from credly_connector.pipeline.context import CrawlContext


@dataclass(frozen=True)
class LocalRetry:
    """The retry's answer and, when it was driven here, how the crawl ended."""

    answer: Answer
    crawl: LocalCrawl | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the retry was accepted and (when driven here) the crawl succeeded."""
        if self.answer.status != 202:
            return False
        return self.crawl is None or self.crawl.succeeded


def retry_locally(
    ctx: CrawlContext,
    crawl_id: str,
    *,
    wait: bool = True,
    workers: int = 4,
    timeout_s: float = 3600.0,
) -> LocalRetry:
    """Retry `crawl_id`; with `wait`, dispatch its messages until it ends or `timeout_s`."""
    ctx.queues.ensure()
    answer = retry_crawl(ctx, crawl_id)
    if answer.status != 202 or not wait:
        return LocalRetry(answer)
    # Ctrl-C answers an interrupted crawl (see `drive`): the retry stands, and `crawl`
    # continues it later.
    record = ctx.crawls.get(crawl_id)
    if record is None:
        return LocalRetry(answer, LocalCrawl(None))
    return LocalRetry(answer, drive(ctx, record, workers=workers, timeout_s=timeout_s))
