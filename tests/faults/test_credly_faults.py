"""Crawls meeting a misbehaving Credly: throttling, server errors, hangs, resets, bad bodies.

Each test runs a whole crawl through Azurite and the stand-ins and asserts the exact items
the rules require (the oracle) and the crawl's status. The faults hit one chosen page (a
query selector on the stand-in), so the start stage's probe of page 1 never meets them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from credly_connector.ops.crawls import crawl_status
from credly_connector.pipeline.messages import PAGES
from credly_connector.stores.crawls import CrawlKind, CrawlStatus
from devstack.standin import LoggedRequest, RequestLog, StandInServer
from devstack.standin.knobs import Fault, FaultKind
from tests.faults.conftest import (
    CREDLY_ATTEMPTS,
    FAST_WRITES,
    MAX_DELIVERIES,
    Waits,
    crawl,
    dispatcher_for,
    page_requests,
    quick_context,
    run_to_end,
    start,
)
from tests.pipeline.conftest import Pipeline

BADGES = 100  # two pages of 50
SETTLE_S = 10.0


def on_page_2(kind: FaultKind, **fields: Any) -> Fault:
    """A fault on page 2 of the badge list only."""
    return Fault(kind, route_class="badges", query={"page": "2"}, **fields)


@dataclass(frozen=True)
class Transient:
    """A passing Credly fault on page 2, and what the crawl should make of it."""

    faults: Callable[[], list[Fault]]
    waits: list[float]
    """The waits the client's retry policy asks for (jitter off: 0.5 s doubling)."""
    statuses: list[int]
    """Every answer page 2 got, in order (0: no answer, the connection dropped or hung)."""
    redeliveries: int = 0


TRANSIENTS = {
    "429-burst-with-retry-after": Transient(
        lambda: [on_page_2(FaultKind.STATUS, status=429, retry_after=2, times=3)],
        [2.0, 2.0, 2.0],
        [429, 429, 429, 200],
    ),
    "429-burst-without-retry-after": Transient(
        lambda: [on_page_2(FaultKind.STATUS, status=429, times=3)],
        [0.5, 1.0, 2.0],
        [429, 429, 429, 200],
    ),
    "429-burst-outlasting-the-client-retries": Transient(
        lambda: [on_page_2(FaultKind.STATUS, status=429, retry_after=1, times=CREDLY_ATTEMPTS + 1)],
        [1.0] * CREDLY_ATTEMPTS,
        [429] * (CREDLY_ATTEMPTS + 1) + [200],
        redeliveries=1,
    ),
    "500-502-503": Transient(
        lambda: [
            on_page_2(FaultKind.STATUS, status=500),
            on_page_2(FaultKind.STATUS, status=502),
            on_page_2(FaultKind.STATUS, status=503, retry_after=3),
        ],
        [0.5, 1.0, 3.0],
        [500, 502, 503, 200],
    ),
    "connection-resets": Transient(
        lambda: [on_page_2(FaultKind.RESET, times=2)], [0.5, 1.0], [0, 0, 200]
    ),
    "hang-past-the-client-timeout": Transient(
        lambda: [on_page_2(FaultKind.HANG, hang_s=1.5)], [0.5], [0, 200]
    ),
    "truncated-json-once": Transient(
        lambda: [on_page_2(FaultKind.TRUNCATED_JSON)], [0.5], [200, 200]
    ),
}


def settled(log: RequestLog, page: int, count: int) -> list[LoggedRequest]:
    """Page `page`'s requests once `count` are logged (a hung request is logged late)."""
    deadline = time.monotonic() + SETTLE_S
    while len(page_requests(log, page)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(page_requests(log, page), key=lambda e: e.seq)


@pytest.mark.parametrize("case", TRANSIENTS.values(), ids=TRANSIENTS.keys())
def test_a_passing_credly_fault_is_retried_and_the_crawl_equals_the_oracle(
    make_pipeline: Callable[..., Pipeline], case: Transient
) -> None:
    # Given Credly failing page 2 of the listing for a while.
    pipeline = make_pipeline(badges=BADGES, seed=31, env=FAST_WRITES)
    faults = [pipeline.stack.credly.api.knobs.add_fault(f) for f in case.faults()]
    waits = Waits()
    ctx = quick_context(pipeline.settings, waits)
    dispatcher = dispatcher_for(ctx)

    # When a full crawl runs to its end.
    record = run_to_end(ctx, start(ctx, CrawlKind.FULL), dispatcher)

    # Then it succeeded with exactly the oracle's items, each written once.
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert record.total_pages == 2
    assert record.counts["pages_failed"] == 0
    expected = pipeline.expected()
    assert expected
    assert pipeline.stored() == expected
    assert pipeline.writes() == len(expected)
    assert pipeline.ctx.orgstate.get(pipeline.stack.organization_id).watermark is not None
    # And page 2 was asked again after each fault, waiting as the policy (or Credly) said.
    assert all(f.exhausted for f in faults)
    answers = settled(pipeline.stack.credly.api.requests, 2, len(case.statuses))
    assert sorted(e.status for e in answers) == sorted(case.statuses)
    assert waits.credly == case.waits
    assert dispatcher.stats.failed[PAGES] == case.redeliveries
    assert dispatcher.stats.poisoned[PAGES] == 0


def test_a_page_always_malformed_fails_the_crawl_and_is_listed_and_poisoned(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given Credly answering page 2 with a body that is not JSON, every time.
    pipeline = make_pipeline(badges=BADGES, seed=37, env=FAST_WRITES)
    pipeline.stack.credly.api.knobs.add_fault(on_page_2(FaultKind.MALFORMED_JSON, times=None))
    waits = Waits()
    ctx = quick_context(pipeline.settings, waits)
    dispatcher = dispatcher_for(ctx)

    # When a first full crawl runs to its end.
    crawl_id = start(ctx, CrawlKind.FULL)
    record = run_to_end(ctx, crawl_id, dispatcher)

    # Then it failed in the pages stage on page 2, with a message that says why.
    assert record.status == CrawlStatus.FAILED, record
    assert record.failure_stage == "pages"
    assert record.failed_steps == ("page-2",)
    assert "malformed" in record.failure_message
    # And the status route lists the page with its last error and attempts.
    answer = crawl_status(ctx, crawl_id)
    assert answer.status == 200
    assert isinstance(answer.body, dict)
    assert answer.body["status"] == CrawlStatus.FAILED
    assert answer.body["failedStepCount"] == 1
    [step] = answer.body["failedSteps"]
    assert (step["stage"], step["step"], step["attempts"]) == ("pages", "page-2", MAX_DELIVERIES)
    assert "malformed response from Credly" in step["error"]
    # And the page's message waits in the poison queue; page 2 was read on every attempt.
    poisoned = ctx.queues.client(PAGES, poison=True).peek_messages(max_messages=32)
    # (the message of pages 1 and 2: page 1 succeeded on its first delivery)
    assert [json.loads(m.content) for m in poisoned] == [
        {"crawl_id": crawl_id, "page": 1, "count": 2}
    ]
    assert dispatcher.stats.poisoned[PAGES] == 1
    tried = page_requests(pipeline.stack.credly.api.requests, 2)
    assert len(tried) == CREDLY_ATTEMPTS * MAX_DELIVERIES
    # And the failed first crawl set no watermark and let go of its lease.
    assert ctx.orgstate.get(pipeline.stack.organization_id).watermark is None
    assert ctx.leases.current(pipeline.stack.organization_id) is None


def test_an_oauth_token_expiring_mid_crawl_is_renewed_exactly_once(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given OAuth credentials, and every access token expiring when page 2 is asked for.
    pipeline = make_pipeline(badges=BADGES, seed=41, env=FAST_WRITES, oauth=True)
    credly = pipeline.stack.credly
    expiry = credly.api.knobs.add_fault(
        on_page_2(FaultKind.CALL, action=credly.expire_access_tokens)
    )
    waits = Waits()
    ctx = quick_context(pipeline.settings, waits)

    # When a full crawl runs to its end with one worker.
    record = crawl(ctx, CrawlKind.FULL, workers=1)

    # Then page 2 met the expired token once, the client fetched one new token, and the
    # crawl succeeded with exactly the oracle's items.
    assert expiry.fired == 1
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert [e.status for e in page_requests(credly.api.requests, 2)] == [401, 200]
    assert credly.api.requests.count(status=401) == 1
    assert credly.web.requests.count("oauth", "POST", 200) == 2
    assert credly.web.requests.count() == 2
    assert waits.credly == []  # a renewal is not a retry
    assert pipeline.stored() == pipeline.expected()


def test_a_next_page_url_on_another_host_is_never_followed(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given Credly's page links pointing at another (loopback) host that records requests.
    pipeline = make_pipeline(badges=BADGES, seed=43, env=FAST_WRITES)
    credly = pipeline.stack.credly
    with StandInServer("foreign", [], lambda status, code, message: {"error": message}) as other:
        credly.page_url_base = other.base_url
        waits = Waits()
        ctx = quick_context(pipeline.settings, waits)
        first = ctx.credly_for(pipeline.stack.organization_id).badge_page(1)
        assert first.next_page_url is not None
        assert first.next_page_url.startswith(f"{other.base_url}/v1/organizations/")

        # When a full crawl runs to its end.
        record = crawl(ctx, CrawlKind.FULL)

        # Then the other host got no request at all, and the crawl read every page from the
        # API host and left exactly the oracle's items.
        assert other.requests.count() == 0
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert [len(page_requests(credly.api.requests, n)) for n in (1, 2)] == [3, 1]
    assert pipeline.stored() == pipeline.expected()
