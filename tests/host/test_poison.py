"""A message failing every delivery: poison queue after maxDequeueCount, then its trigger."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import pytest

from credly_connector.pipeline.messages import PAGES
from devstack.standin.knobs import Fault, FaultKind
from tests.host.conftest import TEST_QUEUES, HostStack, wait_until

MAX_DELIVERIES = int(TEST_QUEUES["maxDequeueCount"])


def test_a_page_failing_every_delivery_is_poisoned_and_its_trigger_fails_the_crawl(
    make_host_stack: Callable[..., HostStack], capfd: pytest.CaptureFixture[str]
) -> None:
    # Given Credly refusing page 2 (400, not worth a retry within a delivery), every time.
    stack = make_host_stack(badges=100, seed=37)
    credly = stack.pipeline.stack.credly.api
    credly.knobs.add_fault(
        Fault(FaultKind.STATUS, status=400, route_class="badges", query={"page": "2"}, times=None)
    )
    host = stack.host(timers=False)

    # When a full crawl is requested over HTTP and runs to its end.
    crawl_id = stack.request_crawl(host)
    status = stack.wait_crawl(host, crawl_id)

    # Then page 2's message was delivered maxDequeueCount times, moved to the poison queue,
    # and the poison trigger settled the page as failed: the crawl failed, naming the step.
    # (The app's handlers count to 5 deliveries; with 3 here only the poison trigger can.)
    assert status["status"] == "failed", status
    assert [s["step"] for s in status["failedSteps"]] == ["page-2"]
    assert status["failedSteps"][0]["stage"] == "pages"
    page_2 = [e for e in credly.requests.entries("badges") if parse_qs(e.query)["page"] == ["2"]]
    assert len(page_2) >= MAX_DELIVERIES
    logged = capfd.readouterr().err
    assert logged.count("crawl_pages failed (message") == MAX_DELIVERIES
    assert "moved to crawl-pages-poison" in logged
    # And the poison trigger consumed the poison message.
    ctx = stack.pipeline.ctx
    assert ctx.queues.client(PAGES, poison=True).peek_messages(max_messages=32) == []

    # And once Credly answers again, a crawl requested at once (the failed crawl may not
    # have released its lease yet) is accepted and succeeds.
    credly.knobs.clear_faults()
    again = stack.request_crawl(host)
    assert stack.wait_crawl(host, again)["status"] == "succeeded"
    organization = stack.pipeline.stack.organization_id
    wait_until(lambda: ctx.leases.current(organization) is None, "the lease released", 10.0)
