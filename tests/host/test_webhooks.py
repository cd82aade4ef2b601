"""A Credly webhook POSTed to the host reaches the person's item through the events trigger."""

from __future__ import annotations

import time
from collections.abc import Callable

from devstack.synthetic import Mutator
from tests.host.conftest import HostStack, wait_until

ITEM_DEADLINE_S = 10.0


def test_an_accepted_badge_reaches_the_graph_item_within_10_s_with_no_crawl_running(
    make_host_stack: Callable[..., HostStack],
) -> None:
    # Given a host, a first full crawl over it, and Credly's webhook pointing at the host.
    stack = make_host_stack(seed=11)
    host = stack.host(timers=False)
    first = stack.request_crawl(host)
    assert stack.wait_crawl(host, first)["status"] == "succeeded"
    pipeline, world = stack.pipeline, stack.pipeline.world
    before = pipeline.expected()
    assert pipeline.stored() == before
    mutator = Mutator(world, seed=5)
    for _ in range(40):  # a pending badge accepted that changes someone's item
        accepted = mutator.accept_pending()
        if pipeline.expected() != before:
            break
    after = pipeline.expected()
    (item_id,) = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    for org_id in world.org_ids:
        world.credly.orgs[org_id].webhook_url = host.url("credly/events")

    # When Credly delivers the event to the host's route.
    webhooks = pipeline.stack.credly.webhooks
    with webhooks:
        event_id = accepted.event_ids[-1]
        wait_until(lambda: any(a.event_id == event_id for a in webhooks.delivery_log()), "a POST")
        posted_at = min(a.at for a in webhooks.delivery_log() if a.event_id == event_id)
        while time.monotonic() - posted_at < ITEM_DEADLINE_S:
            if pipeline.stored().get(item_id) == after[item_id]:
                break
            time.sleep(0.05)
        latency = time.monotonic() - posted_at

    # Then the item changed within 10 s, by the events trigger alone (no second crawl).
    assert pipeline.stored().get(item_id) == after[item_id]
    assert latency < ITEM_DEADLINE_S
    (crawl,) = pipeline.ctx.crawls.latest(5)
    assert crawl.crawl_id == first
