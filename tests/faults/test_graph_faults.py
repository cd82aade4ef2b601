"""Crawls meeting a misbehaving Graph: refused item writes, a failed schema, a lost delta state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from credly_connector.ops.setup_report import SetupReport
from credly_connector.settings import load_settings
from credly_connector.stores.crawls import CrawlKind, CrawlStatus
from devstack.standin import LoggedRequest
from devstack.standin.knobs import Fault, FaultKind
from devstack.synthetic.mutations import Mutator
from tests.faults.conftest import FAST_WRITES, Waits, crawl, quick_context
from tests.ops.setup_support import SETUP_CONNECTION, SetupStack
from tests.pipeline.conftest import Pipeline
from tests.pipeline.oracle import expected_items, stored_items

BADGES = 100


def item_puts(pipeline: Pipeline, item_id: str) -> list[LoggedRequest]:
    """The PUTs of one item the Graph stand-in answered, in order."""
    entries = pipeline.stack.graph.server.requests.entries("items", "PUT")
    return [e for e in entries if e.path.endswith(f"/items/{item_id}")]


def test_refused_item_writes_are_retried_as_graph_says_and_the_crawl_equals_the_oracle(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given Graph refusing three people's first writes: 429 and 503 with Retry-After, and 500.
    pipeline = make_pipeline(badges=BADGES, seed=53, env=FAST_WRITES)
    throttled, unavailable, failing = sorted(pipeline.expected())[:3]
    knobs = pipeline.stack.graph.knobs
    for item_id, status, retry_after, times in (
        (throttled, 429, 2.0, 2),
        (unavailable, 503, 3.0, 1),
        (failing, 500, None, 2),
    ):
        knobs.add_fault(
            Fault(
                FaultKind.STATUS,
                route_class="items",
                method="PUT",
                path_contains=f"/items/{item_id}",
                status=status,
                retry_after=retry_after,
                times=times,
            )
        )
    waits = Waits()
    ctx = quick_context(pipeline.settings, waits)

    # When a full crawl runs to its end.
    record = crawl(ctx, CrawlKind.FULL)

    # Then it succeeded with exactly the oracle's items.
    assert record.status == CrawlStatus.SUCCEEDED, record
    expected = pipeline.expected()
    assert pipeline.stored() == expected
    # And each refused write was sent again after the wait Graph asked for (or the backoff),
    # and no other write was repeated.
    assert [e.status for e in item_puts(pipeline, throttled)] == [429, 429, 200]
    assert [e.status for e in item_puts(pipeline, unavailable)] == [503, 200]
    assert [e.status for e in item_puts(pipeline, failing)] == [500, 500, 200]
    assert waits.graph_waits(429) == [2.0, 2.0]
    assert waits.graph_waits(503) == [3.0]
    assert waits.graph_waits(500) == [0.5, 1.0]
    assert {kind for kind, _, _ in waits.graph} == {"items.put"}
    assert pipeline.stack.graph.server.requests.count("items", "PUT", 200) == len(expected)
    assert pipeline.writes() == len(expected)


def test_an_expired_delta_link_resyncs_the_whole_directory(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given a crawled world, then people removed from and disabled in the directory while
    # Graph lost the sync state behind the stored delta link.
    pipeline = make_pipeline(badges=BADGES, seed=59, env=FAST_WRITES)
    waits = Waits()
    ctx = quick_context(pipeline.settings, waits)
    assert crawl(ctx, CrawlKind.FULL).status == CrawlStatus.SUCCEEDED
    before = pipeline.stored()
    assert before == pipeline.expected()
    directory = pipeline.stack.graph.directory
    mutator = Mutator(pipeline.world, seed=59)
    mutator.remove_user()
    mutator.remove_user()
    mutator.disable_user()
    directory.expire_delta_tokens()
    expected = pipeline.expected()
    assert expected != before, "the changes should take someone's item away"
    log = pipeline.stack.graph.server.requests
    seen = len(log.entries("delta"))

    # When an incremental crawl runs.
    record = crawl(ctx, CrawlKind.INCREMENTAL)

    # Then the stored link answered 410, the directory was read again from the start, and
    # the snapshot holds exactly the directory's users (the removed ones too are gone,
    # though a full read never names removals).
    assert record.status == CrawlStatus.SUCCEEDED, record
    rounds = log.entries("delta")[seen:]
    assert [("$deltatoken" in e.query, e.status) for e in rounds] == [(True, 410), (False, 200)]
    assert {u.id for u in ctx.directory.users()} == {u.id for u in directory.users()}
    # And the items are exactly the oracle's: the people who left lost theirs.
    assert pipeline.stored() == expected
    assert pipeline.deletes() == len(set(before) - set(expected))
    # And the new delta link works: the next crawl reads changes only.
    assert crawl(ctx, CrawlKind.INCREMENTAL).status == CrawlStatus.SUCCEEDED
    assert [e.status for e in log.entries("delta")[seen + len(rounds) :]] == [200]
    assert "$deltatoken" in log.entries("delta")[-1].query


def _schema_step(report: SetupReport) -> dict[str, object]:
    body = report.answer().body
    assert isinstance(body, dict)
    return next(step for step in body["steps"] if step["name"] == "schema")


def test_a_failed_schema_operation_is_reported_and_a_rerun_after_it_lets_the_crawl_finish(
    setup_stack: Callable[..., SetupStack],
) -> None:
    # Given a fresh tenant whose first schema registration Graph fails.
    stack = setup_stack(badges=60, seed=61)
    stack.graph.state.connectors.fail_next_schema_operation(
        "The schema could not be provisioned.", code="InternalError"
    )

    # When setup runs, it answers 502 naming Graph's error and how to fix it.
    failed = stack.setup()
    assert failed.answer().status == 502
    schema = _schema_step(failed)
    assert (schema["state"], schema["ok"]) == ("failed", False)
    assert schema["cause"] == "InternalError: The schema could not be provisioned."
    assert "run setup again" in str(schema["fix"])

    # And a crawl started anyway fails when Graph refuses the items, writing nothing and
    # setting no watermark.
    settings = load_settings(stack.env)
    ctx = quick_context(settings, Waits())
    refused = crawl(ctx, CrawlKind.FULL)
    assert refused.status == CrawlStatus.FAILED, refused
    assert refused.failure_stage == "profiles"
    assert "schema" in refused.failure_message
    assert stored_items(stack.graph, SETUP_CONNECTION) == {}
    assert ctx.orgstate.get(stack.organization_id).watermark is None

    # When setup runs again after the fault cleared, it completes.
    again = stack.setup()
    assert again.answer().status == 200
    assert _schema_step(again)["state"] == "created"

    # Then the next crawl leaves exactly the oracle's items.
    record = crawl(ctx, CrawlKind.FULL)
    assert record.status == CrawlStatus.SUCCEEDED, record
    expected = expected_items(stack.world, now=datetime.now(UTC), web_url=settings.credly.web_url)
    assert expected
    assert stored_items(stack.graph, SETUP_CONNECTION) == expected
