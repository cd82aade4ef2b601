"""Housekeeping after each crawl: the bookkeeping of older crawls and old events goes.

A crawl's step records, crawl set and dry-run previews matter while it runs, for a retry
and for a look at recent runs; after that they only grow the tables. The newest crawls of an
organisation keep theirs; the few just older lose them. Crawl records stay (one small row
per crawl: the history `GET ops/crawls` lists). Webhook event records go after a month.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from credly_connector.pipeline.context import CrawlContext
from credly_connector.stores import crawlsets, previews, steps
from credly_connector.stores import events as event_store
from credly_connector.stores.tables import quote, to_iso

log = logging.getLogger(__name__)
# Crawls per organisation that keep their steps, sets and previews.
KEEP_CRAWLS = 10
# Older crawls looked at each time: those that just fell out, and a few a crash left.
PRUNE_WINDOW = 5
EVENT_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Pruned:
    """Rows deleted by one housekeeping pass."""

    crawls: int
    rows: int
    events: int


def prune(ctx: CrawlContext, organization_id: str, now: datetime) -> Pruned:
    """Delete the bookkeeping of an organisation's older crawls and its old event records.

    Idempotent; only crawls that ended are touched.
    """
    recent = ctx.crawls.latest(KEEP_CRAWLS + PRUNE_WINDOW, organization_id)
    older = [c for c in recent[KEEP_CRAWLS:] if c.final]
    rows = 0
    for crawl in older:
        for role in (steps.ROLE, crawlsets.ROLE, previews.ROLE):
            rows += ctx.tables.delete_partition(role, crawl.crawl_id)
        ctx.seen.drop(crawl.crawl_id)  # a crawl that never finished left its table
    cutoff = quote(to_iso(now - EVENT_RETENTION))
    events = ctx.tables.delete_partition(
        event_store.ROLE, organization_id, f"updated_at lt {cutoff}"
    )
    if rows or events:
        log.info(
            "housekeeping: %d rows of %d older crawls and %d old events deleted",
            rows,
            len(older),
            events,
            extra={"stage": "finish"},
        )
    return Pruned(len(older), rows, events)
