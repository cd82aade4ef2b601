"""Failed messages: failed steps in the crawl status, and retrying a failed crawl."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from credly_connector.__main__ import main
from credly_connector.graph.auth import graph_credential
from credly_connector.graph.client import GraphClient, open_graph_client
from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.ops.answers import Answer
from credly_connector.ops.crawls import crawl_status, retry_crawl
from credly_connector.pipeline.context import CrawlContext, GraphSession
from credly_connector.pipeline.launch import request_crawl
from credly_connector.pipeline.messages import PAGES, PROFILES, ProfileMessage, decode, encode
from credly_connector.pipeline.transitions import REDRIVE, redrive_phase, redriven
from credly_connector.retry import RetryPolicy
from credly_connector.rules.items import item_id_for
from credly_connector.runtime import pipeline_options, storage_clients
from credly_connector.settings import Settings
from credly_connector.stores.badges import BadgeStore
from credly_connector.stores.crawls import CrawlKind, CrawlRecord, CrawlStatus
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus, StepStore
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite
from devstack.standin import Knobs
from devstack.standin.knobs import Fault, FaultKind
from devstack.synthetic.mutations import Mutator
from tests.pipeline.conftest import CRAWL_TIMEOUT_S, Pipeline
from tests.pipeline.dispatching import dispatch_to_end
from tests.pipeline.quick_clients import credly_clients

FAST_WRITES = {"GRAPH_WRITE_RATE": "1000"}
CLIENT_ATTEMPTS = 3
GRAPH_ATTEMPTS = 2
MAX_DELIVERIES = 2
STATUS_URL = "https://connector.example/api/ops/crawls/{id}"
OTHER_CRAWL = "0000000000000abcdef"


async def _no_wait(_: float) -> None:
    return None


def _quick_graph(settings: Settings) -> GraphSession:
    """Graph sessions as the runtime opens them, except that retries do not wait."""
    ca_file = str(settings.graph.ca_file) if settings.graph.ca_file else None
    credential = graph_credential(
        access_token=settings.graph.access_token,
        tenant_id=settings.graph.tenant_id,
        client_id=settings.graph.client_id,
        client_secret=settings.graph.client_secret,
        authority=urlsplit(settings.graph.api_url).netloc,
        verify=ca_file,
    )
    policy = RetryPolicy(attempts=GRAPH_ATTEMPTS, sleep=lambda _: None)

    @asynccontextmanager
    async def session() -> AsyncIterator[GraphClient]:
        async with open_graph_client(
            credential,
            base_url=settings.graph.api_url,
            verify=ca_file or True,
            retry=policy,
            sleep=_no_wait,
        ) as client:
            yield client

    return session


def quick_context(settings: Settings) -> CrawlContext:
    """The production wiring, except that the Credly and Graph clients retry without waiting."""
    tables, queues = storage_clients(settings.storage)
    policy = RetryPolicy(attempts=CLIENT_ATTEMPTS, sleep=lambda _: None)
    credly = credly_clients(settings, policy)
    tables.ensure()
    queues.ensure()
    return CrawlContext(pipeline_options(settings), tables, queues, credly, _quick_graph(settings))


def run_to_end(ctx: CrawlContext, crawl_id: str, *, workers: int = 1) -> CrawlRecord:
    """Dispatch like the host (two deliveries, then the poison queue) until the crawl ends."""
    dispatcher = LocalDispatcher(
        ctx,
        workers=workers,
        retry_delay_s=0,
        max_dequeue_count=MAX_DELIVERIES,
        poll_interval_s=0.01,
    )
    return dispatch_to_end(dispatcher, ctx.crawls, crawl_id)


def start(ctx: CrawlContext, kind: str) -> str:
    outcome = request_crawl(ctx, kind, "test")
    assert outcome.crawl is not None, outcome
    return outcome.crawl.crawl_id


def body_of(answer: Answer) -> dict[str, Any]:
    assert isinstance(answer.body, dict)
    return answer.body


def queued(ctx: CrawlContext, stage: str, *, poison: bool = False) -> list[dict[str, Any]]:
    client = ctx.queues.client(stage, poison=poison)
    return [json.loads(m.content) for m in client.peek_messages(max_messages=32)]


def fail_one_person(make_pipeline: Callable[..., Pipeline], **env: str) -> tuple[Pipeline, str]:
    """A pipeline whose Graph answers 500 to every write of one person's item."""
    graph_knobs = Knobs()
    pipeline = make_pipeline(
        badges=40, seed=23, env={**FAST_WRITES, **env}, graph_knobs=graph_knobs
    )
    victim = sorted(pipeline.expected())[0]
    graph_knobs.add_fault(
        Fault(FaultKind.STATUS, method="PUT", path_contains=f"/items/{victim}", times=None)
    )
    return pipeline, victim


# -- pure transitions ----------------------------------------------------------------------


def _record(**changes: Any) -> CrawlRecord:
    base = CrawlRecord(
        crawl_id="9999999999999abcdef",
        organization_id="org",
        kind=CrawlKind.FULL,
        trigger="test",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        status=CrawlStatus.FAILED,
        phase="done",
        total_pages=3,
        total_batches=4,
        advanced_by="batch-4",
        followup_sent=True,
        finished_at=datetime(2025, 1, 1, 1, tzinfo=UTC),
        counts={"pages_failed": 1},
        failure_stage="pages",
        failure_message="page-2: RetryableError: Credly answered 503",
        failed_steps=("page-2",),
    )
    return base.with_changes(**changes)


def test_failed_pages_resume_the_pages_phase_before_failed_batches() -> None:
    page = StepRecord("c", StepKind.PAGE, 2, StepStatus.FAILED)
    batch = StepRecord("c", StepKind.BATCH, 1, StepStatus.FAILED)
    done_page = StepRecord("c", StepKind.PAGE, 1, StepStatus.DONE)

    assert redrive_phase([batch, page, done_page]) == "pages"
    assert redrive_phase([batch, done_page]) == "profiles"
    assert redrive_phase([done_page, StepRecord("c", StepKind.PAGE, 3)]) is None
    assert redrive_phase([]) is None


def test_a_redriven_crawl_runs_again_without_its_failure() -> None:
    moved = redriven(_record(), "pages")

    assert moved == _record(
        status=CrawlStatus.RUNNING,
        phase="pages",
        advanced_by=REDRIVE,
        followup_sent=False,
        finished_at=None,
        counts={},
        failure_stage="",
        failure_message="",
        failed_steps=(),
        total_batches=None,
    )


def test_a_crawl_redriven_in_profiles_keeps_its_batches() -> None:
    moved = redriven(_record(failed_steps=("batch-3",)), "profiles")

    assert moved is not None
    assert (moved.status, moved.phase, moved.total_batches) == (CrawlStatus.RUNNING, "profiles", 4)


def test_only_a_failed_crawl_is_redriven_and_only_into_a_step_phase() -> None:
    assert redriven(_record(status=CrawlStatus.SUCCEEDED), "pages") is None
    assert redriven(_record(status=CrawlStatus.RUNNING, phase="pages"), "pages") is None
    with pytest.raises(ValueError, match="plan"):
        redriven(_record(), "plan")


# -- against Azurite and the stand-ins -----------------------------------------------------


def test_a_failed_page_is_listed_and_its_retry_completes_the_crawl(
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
    # And Credly answering 503 to page 2 of the next listing on every attempt.
    attempts = CLIENT_ATTEMPTS * MAX_DELIVERIES
    knobs = pipeline.stack.credly.api.knobs
    knobs.add_fault(
        Fault(
            FaultKind.STATUS, status=503, route_class="badges", query={"page": "2"}, times=attempts
        )
    )
    ctx = quick_context(pipeline.settings)
    crawl_id = start(ctx, CrawlKind.INCREMENTAL)

    # When the incremental crawl runs to its end.
    record = run_to_end(ctx, crawl_id)

    # Then it failed on page 2 alone, which the status lists with its last error.
    assert record.total_pages == 2, "the test needs a listing of exactly two pages"
    assert (record.status, record.failed_steps) == (CrawlStatus.FAILED, ("page-2",)), record
    status = body_of(crawl_status(ctx, crawl_id))
    assert status["failedStepCount"] == 1
    [failure] = status["failedSteps"]
    assert failure["stage"] == "pages"
    assert failure["step"] == "page-2"
    assert failure["attempts"] == MAX_DELIVERIES
    assert "503" in failure["error"]
    assert len(failure["error"]) <= 300
    assert datetime.fromisoformat(failure["at"]) >= record.created_at
    # And the watermark stayed, and the page's message waits in the poison queue.
    assert ctx.orgstate.get(organization).watermark == watermark
    # (the message of pages 1 and 2: page 1 succeeded on its first delivery)
    assert queued(ctx, PAGES, poison=True) == [{"crawl_id": crawl_id, "page": 1, "count": 2}]

    # When Credly has recovered and the crawl is retried (another crawl's poison message
    # sits in the queue too).
    assert all(fault.exhausted for fault in knobs.faults())
    foreign = {"crawl_id": OTHER_CRAWL, "page": 1}
    ctx.queues.client(PAGES, poison=True).send_message(json.dumps(foreign))
    listed = len(pipeline.stack.credly.api.requests.entries("badges"))
    answer = retry_crawl(ctx, crawl_id, status_url=STATUS_URL)

    # Then page 2 alone is sent again, and only this crawl's poison message is gone.
    assert answer.status == 202, answer.body
    retried = body_of(answer)
    assert retried["redriven"] == ["page-2"]
    assert retried["poisonMessagesRemoved"] == 1
    assert answer.headers["Location"] == STATUS_URL.replace("{id}", crawl_id)
    assert queued(ctx, PAGES) == [{"crawl_id": crawl_id, "page": 2, "count": 1}]
    assert queued(ctx, PAGES, poison=True) == [foreign]

    # And the crawl carries on to a success with exactly the oracle's items.
    record = run_to_end(ctx, crawl_id, workers=4)
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert record.counts["pages_failed"] == 0
    assert pipeline.stored() == pipeline.expected()
    moved = ctx.orgstate.get(organization).watermark
    assert moved is not None
    assert moved > watermark
    again = pipeline.stack.credly.api.requests.entries("badges")[listed:]
    assert again
    assert {parse_qs(e.query)["page"][0] for e in again} == {"2"}
    assert body_of(crawl_status(ctx, crawl_id))["failedSteps"] == []
    assert ctx.leases.current(organization) is None


def test_a_failed_profile_batch_is_redriven_once_when_retried_twice_at_once(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given a Graph refusing one person's item with 500s, and batches of four people.
    pipeline, victim = fail_one_person(make_pipeline, PROFILE_BATCH_SIZE="4")
    ctx = quick_context(pipeline.settings)
    organization = pipeline.stack.organization_id

    # When a full crawl runs to its end.
    crawl_id = start(ctx, CrawlKind.FULL)
    record = run_to_end(ctx, crawl_id, workers=2)

    # Then it failed on that person's batch alone, listed with Graph's error.
    assert record.status == CrawlStatus.FAILED, record
    assert record.failure_stage == "profiles"
    assert (record.total_batches or 0) > 1
    [failure] = body_of(crawl_status(ctx, crawl_id))["failedSteps"]
    assert failure["stage"] == "profiles"
    assert failure["attempts"] == MAX_DELIVERIES
    assert "500" in failure["error"]
    assert (failure["step"],) == record.failed_steps
    # And the batch's message is kept on its step: a first crawl's range batch, whose
    # range of badge rows holds the person's.
    number = int(failure["step"].removeprefix("batch-"))
    step = ctx.steps.get(crawl_id, StepKind.BATCH, number)
    assert step is not None
    kept = decode(PROFILES, step.message, ProfileMessage)
    assert (kept.crawl_id, kept.batch) == (crawl_id, number)
    [email] = [
        p.credly_email.lower()
        for p in pipeline.world.people
        if p.directory_user_id and item_id_for(p.directory_user_id) == victim
    ]
    low, high = kept.span
    assert low <= BadgeStore.row_prefix(email)
    assert not high or BadgeStore.row_prefix(email) < high
    # And everyone else's item is written, the watermark untouched.
    expected = pipeline.expected()
    assert pipeline.stored() == {k: v for k, v in expected.items() if k != victim}
    assert ctx.orgstate.get(organization).watermark is None
    puts = [
        e
        for e in pipeline.stack.graph.server.requests.entries("items", "PUT")
        if e.path.endswith(victim)
    ]
    assert [e.status for e in puts] == [500] * (GRAPH_ATTEMPTS * MAX_DELIVERIES)

    # When Graph has recovered and two retries arrive at once.
    pipeline.stack.graph.knobs.clear_faults()
    writes = pipeline.writes()
    barrier = threading.Barrier(2)

    def retry() -> Answer:
        barrier.wait()
        return retry_crawl(ctx, crawl_id)

    with ThreadPoolExecutor(2) as pool:
        answers = [pool.submit(retry) for _ in range(2)]
        statuses = sorted(a.result().status for a in answers)

    # Then one re-drives the batch (its message sent once) and the other is refused.
    assert statuses == [202, 409]
    assert queued(ctx, PROFILES) == [json.loads(step.message)]

    # And the crawl succeeds, writing only the person whose write had failed.
    record = run_to_end(ctx, crawl_id, workers=2)
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert record.counts["batches_failed"] == 0
    assert pipeline.stored() == expected
    assert pipeline.writes() - writes == 1
    assert ctx.orgstate.get(organization).watermark is not None
    done = ctx.steps.get(crawl_id, StepKind.BATCH, number)
    assert done is not None
    assert done.status == StepStatus.DONE


def test_a_retry_while_another_crawl_holds_the_lease_is_refused(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given a crawl that failed on one batch, and a new crawl of the organisation since.
    pipeline, _ = fail_one_person(make_pipeline)
    ctx = quick_context(pipeline.settings)
    crawl_id = start(ctx, CrawlKind.FULL)
    assert run_to_end(ctx, crawl_id, workers=2).status == CrawlStatus.FAILED
    other = start(ctx, CrawlKind.INCREMENTAL)

    # When the failed crawl is retried.
    answer = retry_crawl(ctx, crawl_id, status_url=STATUS_URL)

    # Then it is refused, naming the crawl that runs, and nothing changed.
    assert answer.status == 409
    error = body_of(answer)["error"]
    assert error["runningCrawlId"] == other
    assert other in error["message"]
    record = ctx.crawls.get(crawl_id)
    assert record is not None
    assert record.status == CrawlStatus.FAILED
    assert body_of(crawl_status(ctx, crawl_id))["failedStepCount"] == 1
    assert queued(ctx, PROFILES) == []
    lease = ctx.leases.current(pipeline.stack.organization_id)
    assert lease is not None
    assert lease.holder == other


def test_retry_refuses_malformed_unknown_running_and_succeeded_crawls(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=20, seed=3)
    ctx = pipeline.ctx

    assert retry_crawl(ctx, "../crawls").status == 400
    unknown = retry_crawl(ctx, OTHER_CRAWL)
    assert unknown.status == 404
    assert OTHER_CRAWL in body_of(unknown)["error"]["message"]

    succeeded = pipeline.crawl("full").record
    assert succeeded is not None
    assert succeeded.status == CrawlStatus.SUCCEEDED
    refused = retry_crawl(ctx, succeeded.crawl_id)
    assert refused.status == 409
    assert "succeeded" in body_of(refused)["error"]["message"]

    running = start(ctx, CrawlKind.INCREMENTAL)
    refused = retry_crawl(ctx, running, status_url=STATUS_URL)
    assert refused.status == 409
    error = body_of(refused)["error"]
    assert error["crawlStatus"] == CrawlStatus.QUEUED
    assert error["statusUrl"] == STATUS_URL.replace("{id}", running)
    record = ctx.crawls.get(running)
    assert record is not None
    assert record.status == CrawlStatus.QUEUED


def test_a_crawl_that_failed_at_its_start_has_nothing_to_retry(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=20, seed=3, env={"CREDLY_AUTH_TOKEN": "not-our-token"})
    failed = pipeline.crawl("full").record
    assert failed is not None
    assert (failed.status, failed.failure_stage) == (CrawlStatus.FAILED, "start")

    answer = retry_crawl(pipeline.ctx, failed.crawl_id)

    assert answer.status == 409
    message = body_of(answer)["error"]["message"]
    assert "start" in message
    assert "new crawl" in message
    assert body_of(crawl_status(pipeline.ctx, failed.crawl_id))["failedSteps"] == []
    assert pipeline.ctx.leases.current(pipeline.stack.organization_id) is None


def test_the_command_line_shows_the_failed_batch_and_retries_it_to_success(
    make_pipeline: Callable[..., Pipeline],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a crawl that failed on one batch, and the command line's settings.
    pipeline, _ = fail_one_person(make_pipeline)
    ctx = quick_context(pipeline.settings)
    crawl_id = start(ctx, CrawlKind.FULL)
    assert run_to_end(ctx, crawl_id, workers=2).status == CrawlStatus.FAILED
    for name, value in pipeline.stack.env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()

    # When `status` is asked, it prints the failed batch and exits 1.
    assert main(["status", crawl_id, "--json"]) == 1
    shown = json.loads(capsys.readouterr().out)
    assert [s["stage"] for s in shown["failedSteps"]] == ["profiles"]

    # When Graph has recovered, `retry` re-drives the batch here and the crawl succeeds.
    pipeline.stack.graph.knobs.clear_faults()
    assert main(["retry", crawl_id, "--workers", "2", "--timeout", str(CRAWL_TIMEOUT_S)]) == 0
    printed = capsys.readouterr().out
    assert f"crawl {crawl_id} (full): succeeded" in printed
    assert pipeline.stored() == pipeline.expected()
    assert main(["retry", crawl_id, "--no-wait"]) == 1
    assert "succeeded" in capsys.readouterr().err


def test_a_kept_message_longer_than_one_table_property_reads_back_whole(
    azurite: Azurite, storage_name: str
) -> None:
    tables = Tables.from_connection_string(azurite.connection_string, storage_name)
    tables.ensure()
    steps = StepStore(tables)
    emails = tuple(f"person.{n:05d}@example.org" for n in range(1300))
    message = encode(ProfileMessage(OTHER_CRAWL, 3, (), emails))
    assert len(message) > 32_000

    steps.put(
        StepRecord(
            OTHER_CRAWL, StepKind.BATCH, 3, StepStatus.FAILED, 2, error="x" * 500, message=message
        )
    )

    stored = steps.get(OTHER_CRAWL, StepKind.BATCH, 3)
    assert stored is not None
    assert stored.message == message
    assert stored.error == "x" * 300
    assert [s.key for s in steps.failed(OTHER_CRAWL)] == ["batch-3"]
