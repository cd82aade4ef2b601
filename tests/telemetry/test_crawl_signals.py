"""Real crawls through Azurite and both stand-ins emit the telemetry contract's signals."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable

from credly_connector.local.crawl import run_crawl
from credly_connector.pipeline.failures import fail_crawl
from credly_connector.pipeline.finish import finish
from credly_connector.pipeline.messages import STAGES
from credly_connector.rules.reasons import ALL_REASONS, PARSE_REASONS
from credly_connector.stores.crawls import CrawlStatus
from devstack.standin.knobs import Fault, FaultKind
from devstack.synthetic.mutations import Mutator
from tests.pipeline.conftest import CRAWL_TIMEOUT_S, Pipeline
from tests.telemetry.conftest import Signals

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
ITEM_METRICS = ("graph.items.written", "graph.items.deleted", "graph.items.unchanged")


def secrets_of(pipeline: Pipeline) -> list[str]:
    """The credentials in the connector's settings (tokens, client secrets)."""
    return [
        value
        for key, value in pipeline.stack.env.items()
        if ("TOKEN" in key or "SECRET" in key) and len(value) >= 8
    ]


def emitted_text(signals: Signals) -> Iterable[str]:
    """Every attribute value of every span, metric point and log record, and each message."""
    for span in signals.spans():
        yield span.name
        yield from (str(v) for v in (span.attributes or {}).values())
        for event in span.events:
            yield from (str(v) for v in (event.attributes or {}).values())
    for point in signals.points():
        yield from (str(v) for v in point.attributes.values())
    for record in signals.logs.records:
        yield record.getMessage()
        yield from (str(v) for v in vars(record).values())


def assert_nothing_secret(signals: Signals, secrets: list[str]) -> None:
    assert secrets, "the stack should configure credentials"
    for text in emitted_text(signals):
        assert not EMAIL.search(text), text
        for secret in secrets:
            assert secret not in text


def labels_of(record: logging.LogRecord) -> tuple[str | None, str | None, str | None]:
    """A record's (crawl_id, organization_id, stage) attributes, None where missing."""
    return (
        getattr(record, "crawl_id", None),
        getattr(record, "organization_id", None),
        getattr(record, "stage", None),
    )


def in_dispatch(record: logging.LogRecord) -> bool:
    """Whether a handler logged the record (on one of the local dispatcher's threads)."""
    return (record.threadName or "").startswith("dispatch")


def crawl_labels(crawl_id: str, organization_id: str) -> dict[str, str]:
    return {"crawl_id": crawl_id, "organization_id": organization_id}


def test_a_full_crawl_emits_every_signal_of_the_contract(
    make_pipeline: Callable[..., Pipeline], signals: Signals
) -> None:
    # Given a world whose Credly throttles one listing and whose Graph throttles one write.
    pipeline = make_pipeline(badges=60, seed=7)
    org = pipeline.stack.organization_id
    pipeline.stack.credly.api.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="badges", status=429, retry_after=0)
    )
    pipeline.stack.graph.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="items", method="PUT", status=429, retry_after=0)
    )

    # When a full crawl runs through the queues.
    result = pipeline.crawl("full")

    assert result.succeeded, result.record
    record = result.record
    assert record is not None
    crawl = record.crawl_id
    labels = crawl_labels(crawl, org)

    # Then every stage ran in spans carrying the crawl's labels, one per message.
    spans = [s for s in signals.spans() if (s.attributes or {}).get("crawl_id") == crawl]
    for span in spans:
        assert dict(span.attributes or {}) == {**labels, "stage": span.name}
    per_stage = Counter(span.name for span in spans)
    span_of_pages = pipeline.ctx.options.pages_per_message  # pages to a page message
    assert per_stage == {
        "start": 1,
        "pages": -(-(record.total_pages or 0) // span_of_pages),
        "plan": 1,
        "profiles": record.total_batches,
        "finish": 1,
    }

    # And the badge and item counters agree with the world and the crawl's record.
    badges = len(pipeline.world.credly.badges[org])
    expected = pipeline.expected()
    assert signals.total("credly.badges.fetched", **labels) == badges
    assert signals.total("credly.badges.changed", **labels) == record.counts["badges_changed"]
    assert record.counts["badges_changed"] == badges
    assert signals.total("graph.items.written", **labels) == len(expected) > 0
    assert signals.total("graph.items.deleted", **labels) == 0
    assert signals.total("graph.items.unchanged", **labels) == 0
    for name in ("credly.badges.fetched", "credly.badges.changed", *ITEM_METRICS):
        points = signals.named(name, crawl_id=crawl)
        assert points, name
        assert all(p.attributes == labels for p in points), name
    skipped = Counter[str]()
    for point in signals.named("badges.skipped", crawl_id=crawl):
        assert set(point.attributes) == {"crawl_id", "organization_id", "reason"}
        assert point.attributes["reason"] in ALL_REASONS
        skipped[str(point.attributes["reason"])] += int(point.value)
    assert skipped, "the world should have badges left off profiles"
    assert dict(skipped) == record.counts["skipped"]

    # And requests and throttling are counted per system.
    ok_listings = signals.total("credly.requests", organization_id=org, status_code="200")
    assert ok_listings >= (record.total_pages or 0) + 1
    assert signals.total("credly.requests", organization_id=org, status_code="429") == 1
    assert signals.total("credly.throttled", organization_id=org) == 1
    assert signals.total("graph.requests", status_code="429") == 1
    graph_ok = [p for p in signals.named("graph.requests") if p.attributes["status_code"][0] == "2"]
    assert sum(p.value for p in graph_ok) >= len(expected)
    assert signals.total("graph.throttled") == 1

    # And the crawl's duration once, as succeeded.
    [duration] = signals.named("crawl.duration", crawl_id=crawl)
    assert duration.attributes == {
        **labels,
        "crawl_kind": "full",
        "status": "succeeded",
        "dry_run": "false",
    }
    assert duration.count == 1
    assert 0 <= duration.value < CRAWL_TIMEOUT_S

    # And each message's age at pickup, per stage and queue.
    for stage in STAGES:
        ages = signals.named("queue.message.age", stage=stage)
        assert [p.attributes["queue"] for p in ages] == [pipeline.ctx.queues.name(stage)]
        assert sum(p.count for p in ages) == per_stage[stage]
        assert 0 <= sum(p.value for p in ages) < CRAWL_TIMEOUT_S * per_stage[stage]

    # And every record the handlers logged carries the crawl's labels and its stage.
    handled = [labels_of(r) for r in signals.logs.records if in_dispatch(r)]
    assert {stage for _, _, stage in handled} >= {"start", "plan", "finish"}
    for crawl_id, organization_id, logged_stage in handled:
        assert (crawl_id, organization_id) == (crawl, org)
        assert logged_stage in STAGES

    # And no credential or email appears anywhere.
    assert_nothing_secret(signals, secrets_of(pipeline))


def test_an_incremental_crawl_counts_deleted_and_unchanged_items_as_its_record_does(
    make_pipeline: Callable[..., Pipeline], signals: Signals
) -> None:
    # Given a full crawl, then people leaving the directory or losing their badges.
    pipeline = make_pipeline(badges=60, seed=11)
    assert pipeline.crawl("full").succeeded
    mutator = Mutator(pipeline.world, seed=3)
    for _ in range(3):
        mutator.remove_user()
        mutator.revoke()
    mutator.add_badge()
    deletes = pipeline.deletes()

    # When an incremental crawl runs.
    result = pipeline.crawl("incremental")

    # Then the item counters say what its record says, deletions included.
    assert result.succeeded, result.record
    record = result.record
    assert record is not None
    assert pipeline.deletes() > deletes
    labels = crawl_labels(record.crawl_id, pipeline.stack.organization_id)
    assert signals.total("graph.items.deleted", **labels) == record.counts["people_deleted"] > 0
    assert signals.total("graph.items.written", **labels) == record.counts.get("people_written", 0)
    assert signals.total("graph.items.unchanged", **labels) == record.counts.get(
        "people_unchanged", 0
    )
    [duration] = signals.named("crawl.duration", crawl_id=record.crawl_id)
    assert (duration.attributes["crawl_kind"], duration.attributes["status"]) == (
        "incremental",
        "succeeded",
    )
    assert_nothing_secret(signals, secrets_of(pipeline))


def test_a_dry_run_counts_what_it_read_but_no_graph_items(
    make_pipeline: Callable[..., Pipeline], signals: Signals
) -> None:
    pipeline = make_pipeline(badges=40, seed=5)
    org = pipeline.stack.organization_id

    result = run_crawl(pipeline.ctx, "full", dry_run=True, timeout_s=CRAWL_TIMEOUT_S)

    assert result.succeeded, result.record
    record = result.record
    assert record is not None
    labels = crawl_labels(record.crawl_id, org)
    assert record.counts["people_written"] > 0  # what a real crawl would have written
    badges = len(pipeline.world.credly.badges[org])
    assert signals.total("credly.badges.fetched", **labels) == badges
    for name in ITEM_METRICS:
        assert signals.named(name, crawl_id=record.crawl_id) == [], name
    skipped = signals.named("badges.skipped", crawl_id=record.crawl_id)
    assert {p.attributes["reason"] for p in skipped} <= set(PARSE_REASONS)
    [duration] = signals.named("crawl.duration", crawl_id=record.crawl_id)
    assert (duration.attributes["dry_run"], duration.attributes["status"]) == ("true", "succeeded")


def test_a_failed_crawl_records_its_duration_once_as_failed(
    make_pipeline: Callable[..., Pipeline], signals: Signals
) -> None:
    # Given Credly refusing the configured token.
    wrong = "0123456789abcdef-not-our-token"
    pipeline = make_pipeline(badges=20, seed=3, env={"CREDLY_AUTH_TOKEN": wrong})
    org = pipeline.stack.organization_id

    # When a full crawl runs, and then both endings are attempted again.
    result = pipeline.crawl("full")
    record = result.record
    assert record is not None
    assert record.status == CrawlStatus.FAILED, record
    fail_crawl(pipeline.ctx, record, "finish", "a late second failure")
    assert finish(pipeline.ctx, record) is None

    # Then its duration was recorded exactly once, as failed.
    [duration] = signals.named("crawl.duration", crawl_id=record.crawl_id)
    assert duration.count == 1
    assert duration.attributes == {
        **crawl_labels(record.crawl_id, org),
        "crawl_kind": "full",
        "status": "failed",
        "dry_run": "false",
    }
    # And the failure was logged at ERROR inside the start stage's span, which failed too.
    errors = [r for r in signals.logs.records if r.levelno >= logging.ERROR]
    assert (record.crawl_id, org, "start") in [labels_of(r) for r in errors if in_dispatch(r)]
    [start] = [s for s in signals.spans() if s.name == "start"]
    assert (start.attributes or {})["crawl_id"] == record.crawl_id
    # And Credly's refusals were counted, without the token anywhere.
    refused = [
        p
        for p in signals.named("credly.requests", organization_id=org)
        if p.attributes["status_code"] in ("401", "403")
    ]
    assert refused
    assert_nothing_secret(signals, [wrong, *secrets_of(pipeline)])
