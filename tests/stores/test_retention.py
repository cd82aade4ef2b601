"""Housekeeping against Azurite: older crawls lose their bookkeeping, recent ones keep it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.retention import EVENT_RETENTION, KEEP_CRAWLS, prune
from credly_connector.runtime import pipeline_options
from credly_connector.settings import load_settings
from credly_connector.stores.crawls import CrawlKind, CrawlRecord, CrawlStatus, new_crawl_id
from credly_connector.stores.events import EventRecord, EventStore
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite

ORG = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _context(azurite: Azurite, storage_name: str) -> CrawlContext:
    tables = Tables.from_connection_string(azurite.connection_string, storage_name)
    tables.ensure()
    settings = load_settings(
        {
            "CREDLY_ORGANIZATION_ID": ORG,
            "CREDLY_AUTH_TOKEN": "t",
            "GRAPH_CONNECTION_ID": "credly",
            "GRAPH_TENANT_ID": "00000000-0000-0000-0000-000000000001",
            "GRAPH_CLIENT_ID": "00000000-0000-0000-0000-000000000002",
            "GRAPH_CLIENT_SECRET": "s",
            "AzureWebJobsStorage": azurite.connection_string,
        }
    )

    def unused(*_: object) -> None:
        raise AssertionError("housekeeping calls no API")

    return CrawlContext(pipeline_options(settings), tables, None, unused, unused)  # type: ignore[arg-type]


def _crawl(ctx: CrawlContext, organization_id: str, minutes_ago: int) -> str:
    created = NOW - timedelta(minutes=minutes_ago)
    crawl_id = new_crawl_id(created)
    ctx.crawls.create(
        CrawlRecord(
            crawl_id,
            organization_id,
            CrawlKind.FULL,
            "timer",
            created,
            status=CrawlStatus.SUCCEEDED,
        )
    )
    ctx.steps.put(StepRecord(crawl_id, StepKind.PAGE, 1, StepStatus.DONE))
    ctx.crawlsets.add_emails(crawl_id, [f"{minutes_ago}@contoso.com"])
    return crawl_id


def _rows(ctx: CrawlContext, role: str, partition: str) -> int:
    query = f"PartitionKey eq '{partition}'"
    return sum(1 for _ in ctx.tables.table(role).query_entities(query))


def test_crawls_past_the_newest_lose_their_steps_and_sets_and_old_events_go(
    azurite: Azurite, storage_name: str
) -> None:
    ctx = _context(azurite, storage_name)
    crawls = [_crawl(ctx, ORG, minutes) for minutes in range(KEEP_CRAWLS + 3, 0, -1)]
    other = _crawl(ctx, OTHER, 500)  # another organisation's crawl is not this one's to prune
    old = EventRecord(ORG, "old", "done", updated_at=NOW - EVENT_RETENTION - timedelta(days=1))
    recent = EventRecord(ORG, "recent", "done", updated_at=NOW - timedelta(days=1))
    events = EventStore(ctx.tables)
    for event in (old, recent):
        events.put(event)

    pruned = prune(ctx, ORG, NOW)
    again = prune(ctx, ORG, NOW)

    assert (pruned.crawls, pruned.events) == (3, 1)
    assert again.rows == again.events == 0
    kept, dropped = crawls[3:], crawls[:3]  # created oldest first
    assert all(_rows(ctx, "crawlsteps", c) > 0 and _rows(ctx, "crawlsets", c) == 1 for c in kept)
    assert all(_rows(ctx, "crawlsteps", c) == _rows(ctx, "crawlsets", c) == 0 for c in dropped)
    assert _rows(ctx, "crawlsteps", other) > 0
    assert all(ctx.crawls.get(c) is not None for c in crawls)  # the history stays
    assert events.get(ORG, "old") is None
    assert events.get(ORG, "recent") is not None
