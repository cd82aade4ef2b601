"""Telemetry scopes, instruments and observers, without storage or stand-ins."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.trace import StatusCode

from credly_connector import telemetry
from credly_connector.pipeline.context import Delivery
from credly_connector.pipeline.dispatch import age_s, handle_message
from credly_connector.pipeline.events import EventMessage, encode_event
from credly_connector.pipeline.messages import PAGES
from credly_connector.pipeline.queues import EVENTS
from credly_connector.runtime import build_context, credly_observer, graph_observer
from credly_connector.settings import load_settings
from credly_connector.stores.crawls import CrawlRecord, CrawlStatus
from tests.infra.test_documents import contract
from tests.telemetry.conftest import Signals

log = logging.getLogger("credly_connector.tests.telemetry")
ORG = "2f1d7a4e-8c1b-4c39-9f2e-5b9a7e6d4c21"
NO_IO_ENV = {
    "CREDLY_ORGANIZATION_ID": ORG,
    "CREDLY_AUTH_TOKEN": "t",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "STORAGE_PREFIX": "unused",
}


def labels_of(record: logging.LogRecord) -> dict[str, object]:
    return {k: getattr(record, k) for k in telemetry.LABELS if hasattr(record, k)}


def test_the_code_defines_exactly_the_contracts_metrics() -> None:
    metrics, attributes = contract()

    assert set(telemetry.METRIC_NAMES) == metrics
    assert set(telemetry.LABELS) <= attributes


def test_a_scope_is_a_span_named_after_its_stage_carrying_its_labels(signals: Signals) -> None:
    with telemetry.scope(stage="pages", crawl_id="c1", organization_id=ORG):
        pass

    [span] = signals.spans()
    assert span.name == "pages"
    assert dict(span.attributes or {}) == {
        "crawl_id": "c1",
        "organization_id": ORG,
        "stage": "pages",
    }


def test_records_inside_a_scope_carry_its_labels_and_records_after_it_do_not(
    signals: Signals,
) -> None:
    with telemetry.scope(stage="plan", crawl_id="c2", organization_id=ORG):
        log.info("inside")
        logging.getLogger("azure.some.sdk").warning("an SDK warning inside")
    log.info("after")

    inside, sdk, after = signals.logs.records
    expected = {"crawl_id": "c2", "organization_id": ORG, "stage": "plan"}
    assert labels_of(inside) == expected
    assert labels_of(sdk) == expected
    assert labels_of(after) == {}


def test_labels_that_are_not_known_are_left_out(signals: Signals) -> None:
    with telemetry.scope(stage="webhook", crawl_id=None, organization_id=ORG):
        log.info("an event")

    [span] = signals.spans()
    assert "crawl_id" not in (span.attributes or {})
    assert labels_of(signals.logs.records[0]) == {"organization_id": ORG, "stage": "webhook"}


def test_an_explicit_extra_wins_over_the_scopes_label(signals: Signals) -> None:
    with telemetry.scope(stage="pages", crawl_id="c3"):
        log.info("moving on", extra={"stage": "plan"})

    [record] = signals.logs.records
    assert labels_of(record) == {"crawl_id": "c3", "stage": "plan"}


def test_annotate_adds_the_organisation_to_the_span_and_to_later_records(
    signals: Signals,
) -> None:
    with telemetry.scope(stage="finish", crawl_id="c4"):
        log.info("before the record was read")
        telemetry.annotate(organization_id=ORG)
        log.info("after")
    log.info("outside")

    [span] = signals.spans()
    assert (span.attributes or {})["organization_id"] == ORG
    before, after, outside = signals.logs.records
    assert "organization_id" not in labels_of(before)
    assert labels_of(after)["organization_id"] == ORG
    assert labels_of(outside) == {}


def test_a_nested_scope_gives_back_the_outer_labels(signals: Signals) -> None:
    with telemetry.scope(stage="ops"):
        with telemetry.scope(stage="start", crawl_id="c5"):
            log.info("inner")
        log.info("outer")

    inner, outer = signals.logs.records
    assert labels_of(inner) == {"crawl_id": "c5", "stage": "start"}
    assert labels_of(outer) == {"stage": "ops"}
    start, ops = signals.spans()
    assert start.parent is not None
    assert start.parent.span_id == ops.context.span_id


def test_asyncio_tasks_started_in_a_scope_log_with_its_labels(signals: Signals) -> None:
    async def work() -> None:
        await asyncio.gather(asyncio.sleep(0), asyncio.to_thread(log.info, "from a task"))

    with telemetry.scope(stage="profiles", crawl_id="c6"):
        asyncio.run(work())

    assert labels_of(signals.logs.records[0]) == {"crawl_id": "c6", "stage": "profiles"}


def test_pool_threads_log_with_the_labels_they_adopted(signals: Signals) -> None:
    with telemetry.scope(stage="profiles", crawl_id="c7", organization_id=ORG):
        with ThreadPoolExecutor(
            1, initializer=telemetry.adopt, initargs=(telemetry.current_labels(),)
        ) as pool:
            pool.submit(log.info, "adopted").result()
        with ThreadPoolExecutor(1) as bare:
            bare.submit(log.info, "not adopted").result()

    adopted, bare_record = signals.logs.records
    assert labels_of(adopted) == {"crawl_id": "c7", "organization_id": ORG, "stage": "profiles"}
    assert labels_of(bare_record) == {}


def test_an_error_escaping_a_scope_marks_its_span_and_propagates(signals: Signals) -> None:
    with pytest.raises(RuntimeError), telemetry.scope(stage="start", crawl_id="c8"):
        raise RuntimeError("boom")

    [span] = signals.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_the_sdk_http_loggers_are_kept_at_warning() -> None:
    names = ("azure.core.pipeline.policies.http_logging_policy", "azure", "httpx", "urllib3")
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        telemetry.quiet_sdk_loggers()

        for name in names:
            assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
        assert not logging.getLogger("azure.identity._internal").isEnabledFor(logging.INFO)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_credly_responses_are_counted_per_organisation_then_passed_on(signals: Signals) -> None:
    seen: list[tuple[str, int | None]] = []
    observe = credly_observer("org-a", lambda label, status: seen.append((label, status)))

    observe("GET /badges", 200)
    observe("GET /badges", 429)
    observe("GET /badges", None)  # no answer: passed on, not counted

    assert seen == [("GET /badges", 200), ("GET /badges", 429), ("GET /badges", None)]
    assert signals.total("credly.requests", organization_id="org-a", status_code="200") == 1
    assert signals.total("credly.requests", organization_id="org-a", status_code="429") == 1
    assert signals.total("credly.requests", organization_id="org-a") == 2
    assert signals.total("credly.throttled", organization_id="org-a") == 1


def test_graph_responses_are_counted_by_status_then_passed_on(signals: Signals) -> None:
    seen: list[tuple[str, str, int | None]] = []
    observe = graph_observer(lambda *event: seen.append(event))

    observe("PUT", "items.put", 429)
    observe("PUT", "items.put", 200)
    without_then = graph_observer(None)
    without_then("GET", "users.delta", 200)

    assert seen == [("PUT", "items.put", 429), ("PUT", "items.put", 200)]
    assert signals.total("graph.requests", status_code="200") == 2
    assert signals.total("graph.requests", status_code="429") == 1
    [throttled] = signals.named("graph.throttled")
    assert (throttled.attributes, throttled.value) == ({}, 1)


def test_a_crawl_ending_records_its_duration_from_its_start(signals: Signals) -> None:
    created = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    record = CrawlRecord(
        "c9",
        ORG,
        "incremental",
        "timer",
        created,
        status=CrawlStatus.FAILED,
        started_at=created + timedelta(seconds=30),
        finished_at=created + timedelta(seconds=120),
        dry_run=True,
    )

    telemetry.crawl_ended(record)
    telemetry.crawl_ended(record.with_changes(crawl_id="c10", finished_at=None))

    [point] = signals.named("crawl.duration")
    assert point.attributes == {
        "crawl_id": "c9",
        "organization_id": ORG,
        "crawl_kind": "incremental",
        "status": "failed",
        "dry_run": "true",
    }
    assert (point.count, point.value) == (1, 90.0)


def test_a_naive_insertion_time_is_read_as_utc() -> None:
    naive = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=60)

    assert 59 <= age_s(naive) < 3600


def test_an_event_message_runs_as_the_webhook_stage_and_reports_its_age(
    signals: Signals,
) -> None:
    ctx = build_context(load_settings(NO_IO_ENV))
    body = encode_event(EventMessage("ev-1", "an-unconfigured-organisation"))
    enqueued = datetime.now(UTC) - timedelta(seconds=30)

    handle_message(ctx, EVENTS, body, Delivery(enqueued_at=enqueued))

    [span] = signals.spans()
    assert (span.name, dict(span.attributes or {})) == (
        "webhook",
        {"organization_id": "an-unconfigured-organisation", "stage": "webhook"},
    )
    [dropped] = signals.logs.records
    assert labels_of(dropped) == {
        "organization_id": "an-unconfigured-organisation",
        "stage": "webhook",
    }
    [age] = signals.named("queue.message.age")
    assert age.attributes == {"stage": "webhook", "queue": "unusedcredly-events"}
    assert age.count == 1
    assert 30 <= age.value < 3600


def test_a_malformed_stage_message_is_logged_in_its_stage_and_has_no_age_without_a_time(
    signals: Signals,
) -> None:
    ctx = build_context(load_settings(NO_IO_ENV))

    handle_message(ctx, PAGES, b"not json", Delivery())

    [span] = signals.spans()
    assert span.name == "pages"
    [dropped] = signals.logs.records
    assert dropped.levelno == logging.ERROR
    assert labels_of(dropped) == {"stage": "pages"}
    assert signals.named("queue.message.age") == []


def test_annotate_outside_a_scope_leaves_no_labels_behind(signals: Signals) -> None:
    telemetry.annotate(crawl_id="c9", organization_id=ORG)
    log.info("later, elsewhere")

    [record] = signals.logs.records
    assert labels_of(record) == {}
    assert telemetry.current_labels() == {}
