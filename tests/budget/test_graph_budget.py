"""The shared rate on Azurite: one row per budget, the gate shared, its cost, storage failing."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from credly_connector.budget.policy import RatePolicy
from credly_connector.budget.rate import SharedRate
from credly_connector.errors import RetryableError
from credly_connector.stores.budgets import BudgetStore
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite

KEY = "graph:people"


def instance(
    azurite: Azurite, prefix: str, policy: RatePolicy, **options: Any
) -> tuple[SharedRate, list[str]]:
    """A budget as one instance holds it (its own storage client); its table requests."""
    requests: list[str] = []
    tables = Tables.from_connection_string(
        azurite.connection_string,
        prefix,
        raw_response_hook=lambda response: requests.append(response.http_request.method),
    )
    return SharedRate(KEY, BudgetStore(tables), policy, **options), requests


async def take(budget: SharedRate, count: int) -> list[float]:
    """Acquire `count` permits one after another, reporting each as accepted."""
    times = []
    for _ in range(count):
        await budget.acquire()
        times.append(time.time())
        budget.succeeded()
    return times


def test_a_429_seen_by_one_instance_holds_back_the_others(
    azurite: Azurite, storage_name: str
) -> None:
    policy = RatePolicy(start=20.0, ceiling=20.0)
    first, _ = instance(azurite, storage_name, policy)
    second, _ = instance(azurite, storage_name, policy)
    asyncio.run(take(first, 1))
    asyncio.run(take(second, 1))

    # given: the first instance was throttled with Retry-After 2 and told the budget
    first.throttled(2.0)
    throttled_at = time.time()
    asyncio.run(take(first, 1))

    # when: the second instance needs permits beyond its block
    times = asyncio.run(take(second, 40))

    # then: it sent nothing between the 429 and the end of the gate
    assert second.gate_until >= throttled_at + 1.9
    assert not [t for t in times if throttled_at + 0.1 < t < throttled_at + 1.9]


def test_coordination_costs_at_most_one_storage_operation_per_ten_writes(
    azurite: Azurite, storage_name: str
) -> None:
    # given: one instance at 25 writes/s; when: it takes 100 permits
    budget, requests = instance(azurite, storage_name, RatePolicy(start=25.0, ceiling=25.0))
    asyncio.run(take(budget, 100))

    # then: its storage client sent at most 10 requests (counted by the SDK's hook)
    assert 0 < len(requests) <= 10


def test_storage_out_of_reach_is_a_retryable_error_after_its_patience(
    storage_name: str,
) -> None:
    # given: a storage account nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
        f"KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    tables = Tables.from_connection_string(connection, storage_name, retry_total=0)
    budget = SharedRate(KEY, BudgetStore(tables), RatePolicy(), patience_s=1.0)

    # when/then: the write waits, retries, then gives up with an error the batch retries
    with pytest.raises(RetryableError, match="shared budget graph:people is unreachable"):
        asyncio.run(take(budget, 1))


def test_urgent_permits_go_ahead_of_a_queue_of_claimed_blocks(
    azurite: Azurite, storage_name: str
) -> None:
    policy = RatePolicy(start=10.0, ceiling=10.0)
    crawl, _ = instance(azurite, storage_name, policy)
    webhook, _ = instance(azurite, storage_name, policy)
    # given: other instances claimed blocks reaching seconds ahead
    for _ in range(3):
        queued, _unused = instance(azurite, storage_name, policy)
        asyncio.run(take(queued, 1))
    asyncio.run(take(crawl, 1))
    queue_end = time.time() + 3.0

    # when: a webhook's write comes
    async def urgent() -> float:
        await webhook.acquire(urgent=True)
        return time.time()

    # then: it goes before the queued blocks are through
    assert asyncio.run(urgent()) < queue_end
