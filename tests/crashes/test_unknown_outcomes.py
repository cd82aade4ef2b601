"""Duplicate, shuffled deliveries while some Graph answers are lost: rewrites only there.

tests/pipeline/test_redelivery.py shows that running every handler twice, in shuffled order
and with late replays, writes each item exactly once when every write's outcome is known.
Here Graph does some writes but their answers never arrive (the connection is reset after
Graph stored the item), so the connector cannot know they happened: those items, and only
those, are written again.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from credly_connector.stores.crawls import CrawlStatus
from devstack.tripwire import Tripwire
from tests.crashes.conftest import graph_item_put, graph_item_puts
from tests.pipeline.conftest import Pipeline
from tests.pipeline.test_redelivery import BADGES, FAST_WRITES, Redeliverer

LOST = 4


def test_only_writes_whose_answer_was_lost_are_repeated(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given a pipeline whose Graph traffic goes through a tripwire that loses the answers
    # of a few seeded item writes,
    pipeline = make_pipeline(badges=BADGES, seed=31, env=FAST_WRITES)
    expected = pipeline.expected()
    assert len(expected) > LOST * 2, "the world should give enough people an item"
    rng = random.Random(5)
    graph_port = int(pipeline.stack.graph.base_url.rsplit(":", 1)[1])
    with Tripwire(graph_port, rewrite_links=True, max_lifetime_s=110) as tripwire:
        env = {**pipeline.stack.env, "GRAPH_API_URL": f"{tripwire.url}/v1.0"}
        ctx = build_context(load_settings(env))
        lost = tripwire.lose_answers(graph_item_put, rng.sample(range(1, len(expected)), LOST))

        # when a full crawl runs with every message delivered twice, shuffled and replayed,
        record = Redeliverer(ctx, rng).crawl("full")

    # then it converges to the oracle's items,
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert pipeline.stored() == expected
    # and each item was written once, plus once more for every answer Graph sent but lost.
    assert len(lost.hits) == LOST
    unknown = Counter(hit.target.rsplit("/", 1)[1] for hit in lost.hits)
    assert graph_item_puts(pipeline) == {item: 1 + unknown[item] for item in expected}
