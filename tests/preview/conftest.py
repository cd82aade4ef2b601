"""Dry-run helpers over the pipeline tests' connected stack (a world, both stand-ins, Azurite)."""

from __future__ import annotations

import json
from typing import Any

from credly_connector.local.crawl import run_crawl
from credly_connector.pipeline.pending import pending_set_id
from credly_connector.rules.items import item_id_for
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.crawlsets import CrawlSet
from credly_connector.stores.previews import PersonPreview
from devstack.connected import CONNECTION_ID
from tests.pipeline.conftest import CRAWL_TIMEOUT_S, Pipeline, make_pipeline

__all__ = ["badge_ids", "crawl", "make_pipeline", "pending", "previews_by_item", "raw_items"]


def crawl(pipeline: Pipeline, kind: str, *, dry_run: bool = False) -> CrawlRecord:
    """Run a crawl to its end and return its record (it must succeed)."""
    result = run_crawl(pipeline.ctx, kind, dry_run=dry_run, workers=4, timeout_s=CRAWL_TIMEOUT_S)
    assert not result.timed_out, result
    assert result.succeeded, result.record
    assert result.record is not None
    return result.record


def previews_by_item(pipeline: Pipeline, crawl_id: str) -> dict[str, PersonPreview]:
    """A dry run's previews by the external item id they concern."""
    return {item_id_for(p.user_id): p for p in pipeline.ctx.previews.previews(crawl_id)}


def raw_items(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    """The items the Graph stand-in holds, as they were written."""
    items = pipeline.stack.graph.state.connectors.items(CONNECTION_ID)
    return {item_id: dict(item) for item_id, item in items.items()}


def pending(pipeline: Pipeline) -> CrawlSet:
    """The organisation's pending set (what dry runs owe the next real crawl)."""
    return pipeline.ctx.crawlsets.members(pending_set_id(pipeline.stack.organization_id))


def badge_ids(item: dict[str, Any] | None) -> set[str]:
    """The badge ids an item holds, read from its entries' Credly links."""
    found: set[str] = set()
    for prop in ("certifications", "awards"):
        for value in (item or {"properties": {}})["properties"].get(prop, []):
            found.add(json.loads(value)["webUrl"].rsplit("/", 1)[-1])
    return found
