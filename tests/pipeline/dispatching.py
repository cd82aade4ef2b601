"""Driving a crawl to its end with a local dispatcher (shared by the crawl-driving tests)."""

from __future__ import annotations

from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.stores.crawls import CrawlRecord, CrawlStore
from tests.pipeline.conftest import CRAWL_TIMEOUT_S


def dispatch_to_end(
    dispatcher: LocalDispatcher,
    crawls: CrawlStore,
    crawl_id: str,
    timeout_s: float = CRAWL_TIMEOUT_S,
) -> CrawlRecord:
    """Dispatch until the crawl's record (read from `crawls`) is final; that record.

    Fails the test, showing the record, when the crawl has not ended after `timeout_s`.
    """

    def ended() -> bool:
        record = crawls.get(crawl_id)
        return record is not None and record.final

    assert dispatcher.run_until(ended, timeout_s=timeout_s), crawls.get(crawl_id)
    record = crawls.get(crawl_id)
    assert record is not None
    return record
