"""A crawl by three host instances keeps to one Graph write budget for the connection."""

from __future__ import annotations

from collections.abc import Callable

from devstack.standin import Knobs, RateLimit
from tests.host.conftest import HostStack, make_host_stack  # noqa: F401 - the fixture

LIMIT = 25.0


def test_three_instances_crawl_exactly_within_the_connections_write_limit(
    make_host_stack: Callable[..., HostStack],  # noqa: F811 - the fixture imported above
) -> None:
    # Given a Graph allowing 25 item writes per second for the connection, three instances
    # taking four messages at a time each, and no GRAPH_WRITE_RATE: the fleet must find it.
    graph_knobs = Knobs()
    graph_knobs.set_rate_limit("items", RateLimit(per_second=LIMIT))
    stack = make_host_stack(
        badges=600,
        seed=11,
        env={"GRAPH_WRITE_RATE": "", "PROFILE_BATCH_SIZE": "20"},
        graph_knobs=graph_knobs,
        queues={"batchSize": 4, "newBatchThreshold": 2},
    )
    host = stack.host(instances=3, timers=False)
    graph = stack.pipeline.stack.graph
    graph.server.requests.clear()

    # When a full crawl runs on them.
    crawl_id = stack.request_crawl(host)
    status = stack.wait_crawl(host, crawl_id)

    # Then it ends with exactly the oracle's items...
    assert status["status"] == "succeeded", status
    expected = stack.pipeline.expected()
    assert len(expected) >= 100
    assert stack.pipeline.stored() == expected
    # ...and Graph refused at most 5 % of the item writes.
    writes = graph.server.requests.entries("items", "PUT")
    refused = [w for w in writes if w.status == 429]
    assert len(writes) >= len(expected)
    assert len(refused) <= 0.05 * len(writes)
