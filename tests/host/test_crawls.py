"""Crawls run by the host: requested over HTTP, processed by the queue triggers, exact."""

from __future__ import annotations

from collections.abc import Callable

import requests

from devstack.standin import Knobs
from tests.host.conftest import HostStack, wait_until


def test_a_crawl_requested_over_http_ends_with_exactly_the_oracles_items(
    make_host_stack: Callable[..., HostStack],
) -> None:
    # Given a stack and one host instance on it.
    stack = make_host_stack(badges=240)
    host = stack.host(timers=False)

    # When an administrator requests a full crawl over the host's route, with nothing else.
    crawl_id = stack.request_crawl(host)
    status = stack.wait_crawl(host, crawl_id)

    # Then the queue triggers ran it to success, with exactly the oracle's items in Graph.
    assert status["status"] == "succeeded", status
    expected = stack.pipeline.expected()
    assert expected
    assert stack.pipeline.stored() == expected
    # And the routes need the function key.
    bare = host.url(f"ops/crawls/{crawl_id}", with_key=False)
    assert requests.get(bare, timeout=10).status_code == 401
    keyed = requests.get(bare, headers={"x-functions-key": host.key}, timeout=10)
    assert keyed.json()["status"] == "succeeded"


def test_three_instances_crawl_exactly_even_when_one_is_killed_mid_crawl(
    make_host_stack: Callable[..., HostStack],
) -> None:
    # Given three instances taking two messages at a time each, and a Credly slow enough
    # that every instance is reading pages for seconds.
    stack = make_host_stack(
        badges=600,
        seed=9,
        credly_knobs=Knobs(latency_s=1.5),
        queues={"batchSize": 2, "newBatchThreshold": 0},
    )
    host = stack.host(instances=3, timers=False, message_lease_s=4.0)
    assert len(host.instance_pids) == 3
    credly = stack.pipeline.stack.credly.api

    # When a crawl runs and instance 1 is SIGKILLed while the instances read pages.
    crawl_id = stack.request_crawl(host)
    wait_until(lambda: len(credly.requests.entries("badges")) >= 3, "pages being read")
    killed = host.kill_instance(1)

    # Then every page was read (the killed instance's messages came back after their lease;
    # whether it had already asked Credly for its pages depends on the shared Credly budget's
    # slots, so a page read twice is not asserted)...
    status = stack.wait_crawl(host, crawl_id)
    read = len(credly.requests.entries("badges"))
    assert read >= status["totalPages"] + 1  # page 1 is read by the start stage too
    # ...and the crawl still ended exact.
    assert status["status"] == "succeeded", status
    assert stack.pipeline.stored() == stack.pipeline.expected()
    # And the killed instance was replaced, as the platform replaces a failed one.
    wait_until(lambda: len(host.instance_pids) == 3, "a replacement instance")
    assert killed not in host.instance_pids
    assert host.restarts >= 1
