"""Crawls meeting failures: a page Credly always garbles, refused credentials, Graph 429s."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs

from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.launch import request_crawl
from credly_connector.pipeline.messages import PAGES
from credly_connector.retry import RetryPolicy
from credly_connector.runtime import (
    Hooks,
    graph_factory,
    pipeline_options,
    storage_clients,
)
from credly_connector.settings import Settings
from credly_connector.stores.crawls import CrawlKind, CrawlStatus
from devstack.standin import Knobs
from devstack.standin.knobs import Fault, FaultKind, RateLimit
from devstack.synthetic.mutations import Mutator
from tests.pipeline.conftest import Pipeline
from tests.pipeline.dispatching import dispatch_to_end
from tests.pipeline.quick_clients import credly_clients

FAST_WRITES = {"GRAPH_WRITE_RATE": "1000"}
CLIENT_ATTEMPTS = 3
MAX_DELIVERIES = 2


def quick_retry_context(settings: Settings, sleeps: list[float]) -> CrawlContext:
    """The production wiring, except that the Credly client retries without waiting."""
    tables, queues = storage_clients(settings.storage)
    policy = RetryPolicy(attempts=CLIENT_ATTEMPTS, sleep=sleeps.append)
    credly = credly_clients(settings, policy)
    return CrawlContext(
        pipeline_options(settings), tables, queues, credly, graph_factory(settings, Hooks())
    )


def test_a_page_credly_always_garbles_fails_the_crawl_and_keeps_the_watermark(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given a successful full crawl, and more than a page of changes since.
    pipeline = make_pipeline(badges=60, seed=13, env=FAST_WRITES)
    assert pipeline.crawl("full").succeeded
    organization = pipeline.stack.organization_id
    watermark = pipeline.ctx.orgstate.get(organization).watermark
    assert watermark is not None
    mutator = Mutator(pipeline.world, seed=13)
    for _ in range(55):
        mutator.add_badge()
    # And page 2 of the next listing answered with a body that is not JSON, every time
    # (client retries, then the queue's redeliveries).
    knobs = pipeline.stack.credly.api.knobs
    knobs.add_fault(
        Fault(
            FaultKind.MALFORMED_JSON,
            route_class="badges",
            query={"page": "2"},
            times=CLIENT_ATTEMPTS * MAX_DELIVERIES,
        )
    )
    sleeps: list[float] = []
    ctx = quick_retry_context(pipeline.settings, sleeps)
    outcome = request_crawl(ctx, CrawlKind.INCREMENTAL, "test")
    assert outcome.crawl is not None
    crawl_id = outcome.crawl.crawl_id
    dispatcher = LocalDispatcher(
        ctx, workers=1, retry_delay_s=0, max_dequeue_count=MAX_DELIVERIES, poll_interval_s=0.01
    )

    # When the incremental crawl runs to its end.
    record = dispatch_to_end(dispatcher, ctx.crawls, crawl_id)

    # Then it failed in the pages stage, on page 2 alone.
    assert record.total_pages == 2, "the test needs a listing of exactly two pages"
    assert record.status == CrawlStatus.FAILED, record
    assert record.failure_stage == "pages"
    assert record.failed_steps == ("page-2",)
    assert "malformed" in record.failure_message
    assert record.counts["pages_failed"] == 1
    step = ctx.steps.get(crawl_id, "page", 2)
    assert step is not None
    assert (step.status, step.attempts) == ("failed", MAX_DELIVERIES)
    listed = pipeline.stack.credly.api.requests.entries("badges")
    garbled = [e for e in listed if e.outcome == "fault:malformed_json"]
    assert len(garbled) == CLIENT_ATTEMPTS * MAX_DELIVERIES
    assert {parse_qs(e.query)["page"][0] for e in garbled} == {"2"}
    assert len(sleeps) == (CLIENT_ATTEMPTS - 1) * MAX_DELIVERIES
    # And its message went to the poison queue after the last delivery.
    assert dispatcher.stats.poisoned[PAGES] == 1
    poisoned = ctx.queues.client(PAGES, poison=True).peek_messages(max_messages=32)
    # (the message of pages 1 and 2: page 1 succeeded on its first delivery)
    assert [json.loads(m.content) for m in poisoned] == [
        {"crawl_id": crawl_id, "page": 1, "count": 2}
    ]
    # And the watermark stayed where the full crawl put it.
    assert ctx.orgstate.get(organization).watermark == watermark

    # Then the next incremental crawl reads from that watermark and misses nothing.
    retry = pipeline.crawl("incremental")
    assert retry.succeeded, retry.record
    assert pipeline.stored() == pipeline.expected()


def test_refused_credly_credentials_fail_the_start_and_release_the_lease(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    wrong = "0123456789abcdef-not-our-token"
    pipeline = make_pipeline(badges=20, seed=3, env={"CREDLY_AUTH_TOKEN": wrong})

    result = pipeline.crawl("full")

    record = result.record
    assert record is not None
    assert record.status == CrawlStatus.FAILED, record
    assert record.failure_stage == "start"
    assert "CREDLY_AUTH_TOKEN" in record.failure_message
    assert wrong not in record.failure_message
    assert pipeline.writes() == 0
    organization = pipeline.stack.organization_id
    assert pipeline.ctx.orgstate.get(organization).watermark is None
    again = request_crawl(pipeline.ctx, "full", "test")
    assert again.started, again


def test_graph_throttling_item_writes_still_leaves_exactly_the_oracles_items(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given a Graph that takes item writes at 10 a second, answering 429 with Retry-After.
    graph_knobs = Knobs()
    graph_knobs.set_rate_limit("items", RateLimit(per_second=10, burst=3))
    pipeline = make_pipeline(badges=80, seed=17, env=FAST_WRITES, graph_knobs=graph_knobs)

    result = pipeline.crawl("full")

    assert result.succeeded, result.record
    assert pipeline.stack.graph.server.requests.count("items", "PUT", 429) > 0
    expected = pipeline.expected()
    assert expected
    assert pipeline.stored() == expected
    assert pipeline.writes() == len(expected)
    assert result.record is not None
    assert result.record.status == CrawlStatus.SUCCEEDED


def test_changes_read_by_a_failed_crawl_are_written_by_the_next_one(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given a successful full crawl, then changes at Credly.
    pipeline = make_pipeline(badges=80, seed=17, env=FAST_WRITES)
    assert pipeline.crawl("full").succeeded
    mutator = Mutator(pipeline.world, seed=17)
    for _ in range(6):
        mutator.add_badge()
    # And Graph refusing every item write during the next incremental crawl.
    knobs = pipeline.stack.graph.knobs
    knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="items", method="PUT", status=500, times=None)
    )
    sleeps: list[float] = []
    ctx = quick_retry_context(pipeline.settings, sleeps)
    outcome = request_crawl(ctx, CrawlKind.INCREMENTAL, "test")
    assert outcome.crawl is not None
    crawl_id = outcome.crawl.crawl_id
    dispatcher = LocalDispatcher(
        ctx, workers=2, retry_delay_s=0, max_dequeue_count=MAX_DELIVERIES, poll_interval_s=0.01
    )
    failed_crawl = dispatch_to_end(dispatcher, ctx.crawls, crawl_id)
    assert failed_crawl.status == CrawlStatus.FAILED, failed_crawl
    assert failed_crawl.failure_stage == "profiles"
    assert pipeline.stored() != pipeline.expected()

    # When Graph recovers and the next incremental crawl runs (its pages find the new badges
    # already stored, unchanged).
    knobs.clear_faults()
    result = pipeline.crawl("incremental")

    # Then the people the failed crawl read are written all the same.
    assert result.succeeded, result.record
    assert result.record is not None
    assert result.record.counts.get("badges_changed", 0) == 0
    assert pipeline.stored() == pipeline.expected()
