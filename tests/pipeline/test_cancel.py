"""Cancelling a crawl: it ends `cancelled`, frees its organisation, loses no change it read."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest

from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.ops.crawls import cancel_crawl, retry_crawl
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.dispatch import handle_message
from credly_connector.pipeline.launch import request_crawl
from credly_connector.pipeline.messages import PAGES, PLAN, STAGES, START
from credly_connector.pipeline.pages import store_pages
from credly_connector.pipeline.pending import pending_set_id
from credly_connector.pipeline.query import crawl_query
from credly_connector.pipeline.transitions import cancelled
from credly_connector.stores.crawls import CrawlRecord, CrawlStatus
from credly_connector.stores.steps import StepKind
from devstack.synthetic.mutations import Mutator
from tests.pipeline.bound import bind_to_environment
from tests.pipeline.conftest import Pipeline
from tests.pipeline.dispatching import dispatch_to_end

BADGES = 150  # three pages of 50
FAST = {"GRAPH_WRITE_RATE": "1000", "PROFILE_BATCH_SIZE": "10"}
BASE = "https://connector.example/api/ops/crawls"


def deliver(ctx: CrawlContext, stages: Collection[str]) -> int:
    """Run every message of `stages` through its handler (as the host would) until none is left."""
    delivered = 0
    while True:
        found = 0
        for stage in stages:
            client = ctx.queues.client(stage)
            for message in client.receive_messages(messages_per_page=32, visibility_timeout=60):
                handle_message(ctx, stage, message.content, Delivery(message.dequeue_count or 1))
                client.delete_message(message)
                found += 1
        delivered += found
        if not found:
            return delivered


def changed_world(make_pipeline: Callable[..., Pipeline], seed: int) -> tuple[Pipeline, datetime]:
    """A world crawled once (full), then changed at Credly and in the directory; the watermark."""
    pipeline = make_pipeline(badges=BADGES, seed=seed, env=dict(FAST))
    assert pipeline.crawl("full").succeeded
    watermark = pipeline.ctx.orgstate.get(pipeline.stack.organization_id).watermark
    assert watermark is not None
    mutator = Mutator(pipeline.world, seed=seed)
    mutator.add_badge()
    mutator.add_badge()
    mutator.revoke()
    mutator.make_private()
    mutator.accept_pending()
    assert pipeline.stored() != pipeline.expected(), "the changes should change some item"
    return pipeline, watermark


def body_of(answer: Any) -> dict[str, Any]:
    assert isinstance(answer.body, dict), answer
    return answer.body


def test_a_cancelled_crawl_frees_its_organisation_and_the_next_crawl_writes_what_it_read(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given an incremental crawl that has read every change (its pages and plan ran) and
    # has its profile batches still queued,
    pipeline, watermark = changed_world(make_pipeline, seed=51)
    ctx, org = pipeline.ctx, pipeline.stack.organization_id
    crawl = request_crawl(ctx, "incremental", "test").crawl
    assert crawl is not None
    deliver(ctx, (START, PAGES, PLAN))
    read = ctx.crawls.get(crawl.crawl_id)
    assert read is not None
    assert read.phase == "profiles"
    writes = pipeline.writes() + pipeline.deletes()

    # when it is cancelled,
    answer = cancel_crawl(ctx, crawl.crawl_id)

    # then it ends cancelled in the phase it was in, and its organisation is free at once;
    assert answer.status == 200, answer
    assert body_of(answer)["status"] == CrawlStatus.CANCELLED
    assert body_of(answer)["phase"] == "profiles"
    assert ctx.leases.current(org) is None
    after_cancel = ctx.crawls.get(crawl.crawl_id)
    assert after_cancel is not None
    assert after_cancel.final
    following = request_crawl(ctx, "incremental", "test").crawl
    assert following is not None
    # its batches, delivered among the next crawl's messages, do nothing;
    assert ctx.orgstate.get(org).watermark == watermark
    dispatcher = LocalDispatcher(ctx, workers=4)
    ended = dispatch_to_end(dispatcher, ctx.crawls, following.crawl_id)
    assert ctx.crawls.get(crawl.crawl_id) == after_cancel
    assert list(ctx.steps.records(crawl.crawl_id, StepKind.BATCH)) == []
    # and the next crawl, which finds every badge row already up to date, still writes the
    # people the cancelled one had read: exactly the oracle's items.
    assert ended.status == CrawlStatus.SUCCEEDED, ended
    assert ended.since == watermark
    assert ended.counts.get("badges_changed", 0) == 0
    assert pipeline.writes() + pipeline.deletes() > writes
    assert pipeline.stored() == pipeline.expected()
    assert ctx.crawlsets.members(pending_set_id(org)).emails == set()
    # A cancelled crawl cannot be retried or cancelled again.
    retried = retry_crawl(ctx, crawl.crawl_id)
    assert retried.status == 409
    assert "cancelled and cannot be retried" in body_of(retried)["error"]["message"]
    again = cancel_crawl(ctx, crawl.crawl_id)
    assert again.status == 409
    assert "already ended (cancelled)" in body_of(again)["error"]["message"]


def test_a_page_still_running_when_the_cancel_lands_keeps_its_changes_pending(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given an incremental crawl whose pages are queued, cancelled before they ran,
    pipeline, watermark = changed_world(make_pipeline, seed=52)
    ctx, org = pipeline.ctx, pipeline.stack.organization_id
    crawl = request_crawl(ctx, "incremental", "test").crawl
    assert crawl is not None
    deliver(ctx, (START,))
    started = ctx.crawls.get(crawl.crawl_id)
    assert started is not None
    assert started.phase == "pages"
    assert cancel_crawl(ctx, crawl.crawl_id).status == 200

    # when its pages, already running when the cancel landed, store their badges after it,
    credly = ctx.credly_for(org)
    for number in range(1, (started.total_pages or 0) + 1):
        store_pages(ctx, started, {number: credly.badge_page(number, crawl_query(started))})

    # then what they read is pending, and the next crawl writes it: the oracle's items.
    assert ctx.crawlsets.members(pending_set_id(org)).emails
    assert deliver(ctx, STAGES) > 0  # the cancelled crawl's queued pages: they do nothing
    assert ctx.orgstate.get(org).watermark == watermark
    result = pipeline.crawl("incremental")
    assert result.succeeded, result
    assert pipeline.stored() == pipeline.expected()


def test_cancel_after_the_crawl_ended_changes_nothing(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=20, seed=53, env=dict(FAST))
    done = pipeline.crawl("full")
    assert done.record is not None
    answer = cancel_crawl(pipeline.ctx, done.record.crawl_id)
    assert answer.status == 409
    assert "already ended (succeeded)" in body_of(answer)["error"]["message"]
    assert pipeline.ctx.crawls.get(done.record.crawl_id) == done.record


def test_an_ended_crawl_cannot_become_cancelled() -> None:
    now = datetime.now(UTC)
    record = CrawlRecord("1", "org", "full", "test", now)
    assert cancelled(record, now) == record.with_changes(
        status=CrawlStatus.CANCELLED, finished_at=now
    )
    for status in ("succeeded", "failed", "cancelled"):
        assert cancelled(record.with_changes(status=status), now) is None


@pytest.fixture
def functions(indexed_functions: dict[str, Any]) -> dict[str, Any]:
    return {name: f.get_user_function() for name, f in indexed_functions.items()}


def _call(functions: dict[str, Any], name: str, url: str, crawl_id: str = "") -> Any:
    request = func.HttpRequest(
        "POST", url, body=b'{"kind": "full"}', route_params={"crawl_id": crawl_id}
    )
    response = functions[name](request)
    return response.status_code, json.loads(response.get_body())


def test_the_cancel_route_answers_through_the_bound_function(
    make_pipeline: Callable[..., Pipeline],
    monkeypatch: pytest.MonkeyPatch,
    functions: dict[str, Any],
) -> None:
    pipeline = make_pipeline(badges=20, seed=54)
    bind_to_environment(pipeline, monkeypatch)
    status, started = _call(functions, "ops_crawls_start", BASE)
    assert status == 202
    crawl_id = started["id"]

    def cancel(crawl: str) -> tuple[int, dict[str, Any]]:
        result: tuple[int, dict[str, Any]] = _call(
            functions, "ops_crawls_cancel", f"{BASE}/{crawl}/cancel", crawl
        )
        return result

    assert cancel("not-a-crawl")[0] == 400
    assert cancel("1234567890123abcdef")[0] == 404
    status, body = cancel(crawl_id)
    assert status == 200
    assert (body["id"], body["status"], body["phase"]) == (crawl_id, CrawlStatus.CANCELLED, "start")
    assert "next crawl writes" in body["next"]
    status, body = cancel(crawl_id)
    assert status == 409
    assert body["error"]["crawlStatus"] == CrawlStatus.CANCELLED
    status, body = _call(functions, "ops_crawls_retry", f"{BASE}/{crawl_id}/retry", crawl_id)
    assert status == 409
    assert "start a new crawl" in body["error"]["message"].lower()
    # The organisation is free at once: a new crawl starts.
    status, body = _call(functions, "ops_crawls_start", BASE)
    assert status == 202
    assert body["id"] != crawl_id
