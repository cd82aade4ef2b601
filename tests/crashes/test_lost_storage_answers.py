"""Storage writes whose answer is lost are sent again, so no Graph write is repeated for them.

A connection to the storage account can break after a request went out and before its answer
came back: a pooled connection the account closed as it was reused, a reset under load. The
SDK's retry policy does not resend a POST (a transaction) or a PATCH (a conditional update)
then, so before the transport resent them, a profile batch whose person rows were committed
in such a request failed after its Graph writes, and its redelivery wrote those people to
Graph again. Here the tripwire forwards some person-row and crawl-step writes to Azurite and
resets the connection instead of relaying the answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from credly_connector.stores.crawls import CrawlStatus
from devstack.azurite import Azurite, AzuriteEndpoints
from devstack.tripwire import Tripwire
from tests.crashes.conftest import LIFETIME_S, graph_item_puts, table_write
from tests.pipeline.conftest import Pipeline
from tests.pipeline.test_redelivery import BADGES, FAST_WRITES, Redeliverer


def _behind(pipeline: Pipeline, azurite: Azurite, tables: Tripwire) -> dict[str, str]:
    """The pipeline's settings with the table endpoint behind the tripwire."""
    ports = dict(azurite.endpoints.ports)
    ports["table"] = tables.port
    return {**pipeline.stack.env, "AzureWebJobsStorage": AzuriteEndpoints(ports).connection_string}


def test_storage_writes_whose_answer_was_lost_are_resent_without_graph_rewrites(
    make_pipeline: Callable[..., Pipeline], azurite: Azurite
) -> None:
    # Given a pipeline whose table traffic goes through a tripwire that loses the answers of
    # a few person-row writes and a few crawl-step writes (Azurite applies them),
    pipeline = make_pipeline(badges=BADGES, seed=41, env=FAST_WRITES)
    expected = pipeline.expected()
    pipeline.ctx.tables.ensure()
    pipeline.ctx.queues.ensure()
    with Tripwire(azurite.endpoints.ports["table"], max_lifetime_s=LIFETIME_S) as tables:
        ctx = build_context(load_settings(_behind(pipeline, azurite, tables)))
        people = table_write(pipeline, "people")
        steps = table_write(pipeline, "crawlsteps")
        lost_people = tables.lose_answers(people, [1, 2])
        lost_steps = tables.lose_answers(steps, [4, 9])

        # when a full crawl runs with every message delivered twice, shuffled and replayed,
        record = Redeliverer(ctx, random.Random(7)).crawl("full")

    # then the answers were lost where chosen, the crawl succeeded with the oracle's items,
    assert len(lost_people.hits) == 2
    assert len(lost_steps.hits) == 2
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert pipeline.stored() == expected
    # and each item was written to Graph exactly once: no profile batch failed after its
    # Graph writes for want of its storage answer.
    assert graph_item_puts(pipeline) == dict.fromkeys(expected, 1)


def test_a_lease_whose_answer_was_lost_is_taken_and_not_left_locked(
    make_pipeline: Callable[..., Pipeline], azurite: Azurite
) -> None:
    # Given the lease table behind a tripwire that loses the answers of the first create
    # and the first take-over of an expired lease (Azurite applies both),
    pipeline = make_pipeline(badges=1, seed=43)
    pipeline.ctx.tables.ensure()
    with Tripwire(azurite.endpoints.ports["table"], max_lifetime_s=LIFETIME_S) as tables:
        leases = build_context(load_settings(_behind(pipeline, azurite, tables))).leases
        lost = tables.lose_answers(table_write(pipeline, "leases"), [1, 2])
        now = datetime(2026, 12, 6, tzinfo=UTC)

        # when a crawl takes an organisation's lease, and later another takes it over,
        first = leases.acquire("org-a", "crawl-1", now, timedelta(minutes=5))
        later = now + timedelta(minutes=10)
        second = leases.acquire("org-a", "crawl-2", later, timedelta(minutes=5))

    # then both writes lost their answer, and each taker holds the lease it wrote,
    assert len(lost.hits) == 2
    assert first.acquired
    assert first.lease is not None
    assert first.lease.holder == "crawl-1"
    assert second.acquired
    assert second.taken_over == "crawl-1"
    # and the stored lease is the second taker's, running from its take-over.
    current = pipeline.ctx.leases.current("org-a")
    assert current is not None
    assert (current.holder, current.expires_at) == ("crawl-2", later + timedelta(minutes=5))
