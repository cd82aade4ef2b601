"""The Credly listing a crawl reads, shared by the start stage (page 1) and the page stage."""

from __future__ import annotations

from enum import StrEnum

from credly_connector.credly.queries import BadgeQuery
from credly_connector.stores.crawls import CrawlKind, CrawlRecord


class CredlyFilter(StrEnum):
    """What Credly did with an incremental crawl's `updated_at_min` filter.

    Stored on the crawl record (`CrawlRecord.credly_filter`), empty when no filter was sent.
    """

    APPLIED = "applied"
    IGNORED = "ignored"
    REJECTED = "rejected"


def crawl_query(record: CrawlRecord) -> BadgeQuery:
    """The listing a crawl reads: by a sort key that never changes, since its watermark.

    An incremental crawl whose filter Credly rejected reads every badge instead: change
    detection makes that exact, only slower.
    """
    filtered = (
        record.kind == CrawlKind.INCREMENTAL and record.credly_filter != CredlyFilter.REJECTED
    )
    return BadgeQuery(updated_since=record.since if filtered else None, sort="created_at")
