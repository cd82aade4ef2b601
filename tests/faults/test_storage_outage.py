"""A crawl whose storage account is unreachable for a few seconds in the middle of it.

The pipeline reaches Azurite's table and queue services through loopback TCP gates. When a
chosen request reaches a stand-in (Credly's page 2, or a Graph item write), both gates shut
for a few seconds: every open connection is reset and new ones are refused, so the handlers
in flight fail, their messages come back after the visibility timeout, and the crawl must
still converge to the oracle. The dispatcher (the host's stand-in) suffers the outage too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.queue import LinearRetry, QueueServiceClient

from credly_connector.pipeline.queues import CrawlQueues
from credly_connector.stores.crawls import CrawlKind, CrawlStatus
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite, AzuriteEndpoints
from devstack.standin.knobs import Fault, FaultKind
from devstack.standin.tcp_gate import TcpGate
from tests.faults.conftest import (
    FAST_WRITES,
    Waits,
    dispatcher_for,
    quick_context,
    run_to_end,
    start,
)
from tests.pipeline.conftest import Pipeline

OUTAGE_S = 2.5
VISIBILITY_S = 4
# Such a crawl takes about ten seconds; one that stopped converging must fail showing its
# record, before pytest-timeout's thread dump at 120 s.
STUCK_AFTER_S = 90.0
# One quick retry inside each SDK (the queue SDK's default first wait is 15 s): an outage of
# seconds must reach the handlers instead of being waited out below them.
TABLE_RETRY = {"retry_total": 1, "retry_backoff_factor": 0.1}


@pytest.fixture
def gates(azurite: Azurite) -> Iterator[dict[str, TcpGate]]:
    """A gate in front of Azurite's table and of its queue service."""
    ports = azurite.endpoints.ports
    with TcpGate(ports["table"]) as table, TcpGate(ports["queue"]) as queue:
        yield {"table": table, "queue": queue}


def gated_storage(gates: dict[str, TcpGate], prefix: str) -> tuple[Tables, CrawlQueues]:
    """The pipeline's tables and queues, reached through the gates."""
    endpoints = AzuriteEndpoints({name: gate.port for name, gate in gates.items()})
    connection = endpoints.connection_string
    tables = TableServiceClient.from_connection_string(connection, **TABLE_RETRY)
    queue_retry = LinearRetry(backoff=0, retry_total=1, random_jitter_range=0)
    queues = QueueServiceClient.from_connection_string(connection, retry_policy=queue_retry)
    return Tables(tables, prefix), CrawlQueues(queues, prefix)


@pytest.mark.parametrize(
    ("stand_in", "selector"),
    [
        ("credly", {"route_class": "badges", "query": {"page": "2"}}),
        ("graph", {"route_class": "items", "method": "PUT", "nth": 3}),
    ],
    ids=["while-reading-pages", "while-writing-profiles"],
)
def test_storage_unreachable_mid_crawl_fails_handlers_that_are_retried_to_the_oracle(
    make_pipeline: Callable[..., Pipeline],
    gates: dict[str, TcpGate],
    storage_name: str,
    stand_in: str,
    selector: dict[str, Any],
) -> None:
    # Given a pipeline whose storage goes away for a few seconds once a chosen request is
    # made: Credly's page 2 (pages stage), or Graph's third item write (profiles stage).
    pipeline = make_pipeline(badges=150, seed=67, env=FAST_WRITES)
    knobs = (pipeline.stack.credly.api if stand_in == "credly" else pipeline.stack.graph).knobs

    def storage_outage() -> None:
        for gate in gates.values():
            gate.shut_for(OUTAGE_S)

    outage = knobs.add_fault(Fault(FaultKind.CALL, action=storage_outage, **selector))
    ctx = quick_context(pipeline.settings, Waits(), storage=gated_storage(gates, storage_name))
    dispatcher = dispatcher_for(ctx, workers=2, visibility_timeout_s=VISIBILITY_S)

    # When a full crawl runs to its end (its record read past the gates).
    crawl_id = start(ctx, CrawlKind.FULL)
    record = run_to_end(ctx, crawl_id, dispatcher, observer=pipeline.ctx, timeout_s=STUCK_AFTER_S)

    # Then the outage happened mid-crawl and made handlers fail...
    assert outage.fired == 1
    assert sum(gate.refused + gate.aborted for gate in gates.values()) > 0
    assert sum(dispatcher.stats.failed.values()) > 0
    # ...and the crawl still succeeded with exactly the oracle's items, nothing poisoned.
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert sum(dispatcher.stats.poisoned.values()) == 0
    assert record.counts["pages_failed"] == 0
    expected = pipeline.expected()
    assert expected
    assert pipeline.stored() == expected
    assert pipeline.ctx.orgstate.get(pipeline.stack.organization_id).watermark is not None
