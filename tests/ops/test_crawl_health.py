"""Health: a crawl left queued means nothing processes the queues, and the check says so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from credly_connector.ops.health import crawl_checks
from credly_connector.stores.crawls import CrawlRecord, new_crawl_id
from tests.pipeline.conftest import Pipeline, make_pipeline  # noqa: F401


def queued_crawl(pipeline: Pipeline, created_at: datetime) -> str:
    """A crawl recorded as queued at `created_at` (its start message never processed)."""
    pipeline.ctx.tables.ensure()
    crawl_id = new_crawl_id(created_at)
    org = pipeline.stack.organization_id
    pipeline.ctx.crawls.create(CrawlRecord(crawl_id, org, "full", "http", created_at))
    return crawl_id


def test_a_crawl_queued_for_over_five_minutes_fails_with_the_queue_triggers_as_fix(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
) -> None:
    # Given a crawl requested 12 minutes ago and still queued,
    pipeline = make_pipeline(badges=10, seed=61)
    now = datetime.now(UTC)
    crawl_id = queued_crawl(pipeline, now - timedelta(minutes=12))

    # when health checks the crawls,
    checks = {c.name: c for c in crawl_checks(pipeline.settings, lambda: now)}

    # then the queue check fails: the crawl has waited 12 minutes; the triggers are not running.
    check = checks[f"crawl queue {pipeline.stack.organization_id}"]
    assert not check.ok
    assert crawl_id in check.detail
    assert f"crawl {crawl_id} has waited 12 minutes queued" in check.cause
    assert "queue triggers are not running" in check.fix
    assert "python -m devstack host" in check.fix
    assert "python -m credly_connector crawl" in check.fix


def test_a_crawl_queued_moments_ago_passes(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
) -> None:
    pipeline = make_pipeline(badges=10, seed=62)
    now = datetime.now(UTC)
    crawl_id = queued_crawl(pipeline, now - timedelta(minutes=2))

    checks = {c.name: c for c in crawl_checks(pipeline.settings, lambda: now)}

    check = checks[f"crawl queue {pipeline.stack.organization_id}"]
    assert check.ok
    assert f"crawl {crawl_id} queued 2 min ago" in check.detail
    # Five minutes on, the same crawl fails the check.
    later = {c.name: c for c in crawl_checks(pipeline.settings, lambda: now + timedelta(minutes=5))}
    assert not later[f"crawl queue {pipeline.stack.organization_id}"].ok


def test_no_queued_crawl_adds_no_queue_check(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
) -> None:
    pipeline = make_pipeline(badges=10, seed=63)
    assert pipeline.crawl("full").succeeded

    names = [c.name for c in crawl_checks(pipeline.settings, lambda: datetime.now(UTC))]

    assert names == [f"crawls {pipeline.stack.organization_id}"]
