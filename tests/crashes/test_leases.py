"""The organisation's crawl lease when its holder dies, and when two crawls start at once."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

import function_app
from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.launch import LaunchOutcome, request_crawl
from credly_connector.runtime import build_context
from credly_connector.stores.crawls import CrawlStatus
from credly_connector.stores.steps import StepKind
from tests.crashes.conftest import FAST, Workers, table_write
from tests.pipeline.bound import bind_to_environment
from tests.pipeline.conftest import Pipeline
from tests.pipeline.dispatching import dispatch_to_end

WAIT_S = 90.0
CRAWLS = "https://connector.example/api/ops/crawls"


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_a_dead_holders_crawl_is_taken_over_once_its_lease_expired(
    workers: Callable[..., Workers],
) -> None:
    # Given a full crawl whose worker died after storing some pages,
    stack = workers(badges=150, seed=51)
    pipeline = stack.pipeline
    organization = pipeline.stack.organization_id
    abandoned = request_crawl(pipeline.ctx, "full", "timer").crawl
    assert abandoned is not None
    doomed = stack.start(abandoned.crawl_id, visibility_s=2)
    stack.kill_at(doomed, stack.tables, table_write(pipeline, "crawlsteps", f"{StepKind.PAGE}-"), 2)
    assert doomed.wait(WAIT_S) == -signal.SIGKILL, doomed.log_tail()
    stack.settle()

    # when a crawl is requested while the lease still runs, it is refused;
    refused = request_crawl(pipeline.ctx, "incremental", "timer")
    assert (refused.started, refused.busy_with) == (False, abandoned.crawl_id)

    # and when two are requested at the same moment after the lease expired,
    later = datetime.now(UTC) + pipeline.ctx.options.lease + timedelta(minutes=1)
    racers = [build_context(pipeline.settings, clock=lambda: later) for _ in range(2)]

    def requester(ctx: CrawlContext) -> Callable[[], LaunchOutcome]:
        return lambda: request_crawl(ctx, "incremental", "timer")

    outcomes: list[LaunchOutcome] = at_once([requester(ctx) for ctx in racers])

    # then one took the lease over and the other was refused in its favour,
    started = [o.crawl for o in outcomes if o.crawl is not None]
    assert len(started) == 1, outcomes
    successor = started[0]
    assert [o.busy_with for o in outcomes if o.crawl is None] == [successor.crawl_id]
    # the dead holder's crawl ended failed in the phase it reached, saying why,
    failed = pipeline.ctx.crawls.get(abandoned.crawl_id)
    assert failed is not None
    assert (failed.status, failed.failure_stage) == (CrawlStatus.FAILED, "pages")
    assert "abandoned" in failed.failure_message
    assert "lease expired" in failed.failure_message
    assert pipeline.ctx.orgstate.get(organization).watermark is None

    # and the successor, an incremental crawl, still writes everything the dead one consumed,
    # while the dead crawl's returning messages change nothing.
    finisher = stack.start(successor.crawl_id)
    assert finisher.wait(WAIT_S) == 0, finisher.log_tail()
    record = pipeline.ctx.crawls.get(successor.crawl_id)
    assert record is not None
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert pipeline.stored() == pipeline.expected()
    assert pipeline.ctx.crawls.get(abandoned.crawl_id) == failed
    assert pipeline.ctx.leases.current(organization) is None


@pytest.fixture
def bound(
    make_pipeline: Callable[..., Pipeline],
    monkeypatch: pytest.MonkeyPatch,
    indexed_functions: dict[str, Any],
) -> tuple[Pipeline, dict[str, Any]]:
    """A pipeline whose settings are the process environment the bindings read."""
    pipeline = make_pipeline(badges=100, seed=52, env=dict(FAST))
    bind_to_environment(pipeline, monkeypatch)
    functions = {name: f.get_user_function() for name, f in indexed_functions.items()}
    return pipeline, functions


def test_of_crawls_started_at_the_same_moment_one_runs_the_others_are_refused(
    bound: tuple[Pipeline, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, functions = bound
    caplog.set_level(logging.INFO, logger="credly_connector")

    def post() -> func.HttpResponse:
        request = func.HttpRequest("POST", CRAWLS, body=b'{"kind": "full"}')
        response: func.HttpResponse = functions["ops_crawls_start"](request)
        return response

    def timer() -> None:
        functions["incremental_crawl"](TimerRequest(past_due=False))

    # When two HTTP requests and the timer start a crawl of the organisation at one moment,
    first, second, _ = at_once([post, post, timer])

    # then exactly one crawl exists;
    ctx = function_app.context()
    crawls = ctx.crawls.latest(5)
    assert len(crawls) == 1, crawls
    winner = crawls[0].crawl_id
    # a refused HTTP request got 409 naming it, and a refused timer logged that it skipped.
    answers = [(r.status_code, json.loads(r.get_body())) for r in (first, second)]
    statuses = sorted(status for status, _ in answers)
    skipped = [r.getMessage() for r in caplog.records if "crawl skipped" in r.getMessage()]
    timer_won = crawls[0].trigger == "timer"
    assert statuses == ([409, 409] if timer_won else [202, 409]), answers
    assert len(skipped) == (0 if timer_won else 1), skipped
    assert all(winner in line for line in skipped)
    for status, body in answers:
        if status == 409:
            assert body["error"]["runningCrawlId"] == winner
        else:
            assert body["id"] == winner
    # A timer firing while it runs is skipped too, saying which crawl runs.
    timer()
    skipped = [r.getMessage() for r in caplog.records if "crawl skipped" in r.getMessage()]
    assert len(skipped) == (1 if timer_won else 2), skipped
    assert winner in skipped[-1]
    assert len(ctx.crawls.latest(5)) == 1
    # The one that started runs to the end.
    record = dispatch_to_end(LocalDispatcher(ctx), ctx.crawls, winner)
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert pipeline.stored() == pipeline.expected()
