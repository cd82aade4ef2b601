"""A crawl by three host instances keeps to one Credly concurrency for the organisation."""

from __future__ import annotations

from collections.abc import Callable

from devstack.standin import Knobs
from tests.budget.test_credly_budget import most_in_flight
from tests.host.conftest import HostStack, make_host_stack  # noqa: F401 - the fixture


def test_three_instances_crawl_exactly_and_never_exceed_the_credly_concurrency(
    make_host_stack: Callable[..., HostStack],  # noqa: F811 - the fixture imported above
) -> None:
    # Given three instances taking four messages at a time each (up to twelve pages at once),
    # a Credly that answers slowly, and CREDLY_MAX_CONCURRENCY=2.
    stack = make_host_stack(
        badges=600,
        seed=5,
        env={"CREDLY_MAX_CONCURRENCY": "2"},
        credly_knobs=Knobs(latency_s=0.3),
        queues={"batchSize": 4, "newBatchThreshold": 2},
    )
    host = stack.host(instances=3, timers=False)
    credly = stack.pipeline.stack.credly.api
    credly.requests.clear()

    # When a full crawl runs on them.
    crawl_id = stack.request_crawl(host)
    status = stack.wait_crawl(host, crawl_id)

    # Then it ends exact...
    assert status["status"] == "succeeded", status
    assert stack.pipeline.stored() == stack.pipeline.expected()
    # ...having read every page, never more than two Credly requests in flight at once.
    pages = credly.requests.entries("badges")
    assert len(pages) >= status["totalPages"]
    assert 1 <= most_in_flight(credly.requests.entries()) <= 2
