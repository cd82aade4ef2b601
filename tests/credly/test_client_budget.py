"""The Credly client holds its organisation's shared budget for every request it sends."""

from __future__ import annotations

import pytest

from credly_connector.budget.credly import budget_key, credly_budget
from credly_connector.budget.slot_store import SlotStore
from credly_connector.budget.slots import SlotPolicy
from credly_connector.credly import CredlyClient, TokenAuth
from credly_connector.errors import RetryableError, ThrottledError
from credly_connector.retry import RetryPolicy
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite
from devstack.credly.server import CredlyStandIn
from devstack.standin import Fault, FaultKind
from devstack.synthetic import World
from tests.credly.conftest import Requests, Waits, org_token

QUICK = SlotPolicy(lease_s=5.0, poll_cap_s=0.1, max_wait_s=10.0)


def budgeted_client(
    credly: CredlyStandIn, world: World, tables: Tables, retry: RetryPolicy, seen: Requests
) -> CredlyClient:
    organization = world.org_ids[0]
    return CredlyClient(
        credly.api_url,
        organization,
        TokenAuth(org_token(world)),
        retry=retry,
        timeout=(2.0, 5.0),
        on_request=seen,
        budget=credly_budget(tables, organization, 2, policy=QUICK),
    )


def test_a_429_closes_the_organisations_gate_for_its_retry_after(
    credly: CredlyStandIn, world: World, azurite: Azurite, storage_name: str, seen: Requests
) -> None:
    # Given a budgeted client that does not retry, and Credly answering 429, Retry-After: 30.
    tables = Tables.from_connection_string(azurite.connection_string, storage_name)
    client = budgeted_client(credly, world, tables, RetryPolicy(attempts=1), seen)
    credly.api.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="badges", status=429, retry_after=30)
    )

    # When it reads a page.
    with pytest.raises(ThrottledError):
        client.badge_page(1)

    # Then the organisation's gate is closed for about 30 s for every instance (it holds every
    # slot), and a client of another process asking meanwhile is told to come back later.
    store = SlotStore(tables)
    snapshot = store.look(budget_key(world.org_ids[0]), 2)
    assert snapshot.closed_until is not None
    left = (snapshot.closed_until - store.clock()).total_seconds()
    assert 20 < left <= 30
    assert (snapshot.busy, snapshot.free) == (2, {})
    other = budgeted_client(credly, world, tables, RetryPolicy(attempts=1), Requests())
    with pytest.raises(RetryableError) as raised:
        other.badge_page(2)
    assert raised.value.retry_after is not None
    assert 20 < raised.value.retry_after <= 30
    assert seen.statuses() == [429]
    assert len(credly.api.requests.entries("badges")) == 1


def test_storage_failing_while_taking_a_slot_is_retried_and_never_reaches_credly(
    credly: CredlyStandIn, world: World, waits: Waits, seen: Requests
) -> None:
    # Given a budgeted client whose storage nobody listens on.
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    )
    tables = Tables.from_connection_string(dead, "t", retry_total=0)
    client = budgeted_client(credly, world, tables, waits.policy(), seen)

    # When it reads a page, the failure is retryable: retried by the policy, then raised
    # as retryable (the page message comes back later instead of failing).
    with pytest.raises(RetryableError, match="storage failed"):
        client.badge_page(1)

    # And no request reached Credly.
    assert len(waits.seconds) == 3
    assert seen.seen == []
    assert credly.api.requests.entries() == []


def test_requests_hold_and_free_a_slot_each(
    credly: CredlyStandIn, world: World, azurite: Azurite, storage_name: str, seen: Requests
) -> None:
    # Given a budgeted client.
    tables = Tables.from_connection_string(azurite.connection_string, storage_name)
    client = budgeted_client(credly, world, tables, RetryPolicy(attempts=1), seen)

    # When it reads pages, a badge, the organisation.
    pages = [client.badge_page(number) for number in (1, 2)]
    client.organization()

    # Then each was answered, and no slot stays taken.
    assert all(page.badges for page in pages)
    assert seen.statuses() == [200, 200, 200]
    store = SlotStore(tables)
    snapshot = store.look(budget_key(world.org_ids[0]), 2)
    assert snapshot.busy == 0
    assert len(snapshot.free) == 2


def test_an_uncontended_request_costs_two_storage_operations(
    credly: CredlyStandIn, world: World, azurite: Azurite, storage_name: str, seen: Requests
) -> None:
    # Given a budgeted client alone on its organisation, counting its storage requests.
    operations: list[str] = []
    tables = Tables.from_connection_string(
        azurite.connection_string,
        storage_name,
        raw_response_hook=lambda response: operations.append(response.http_request.method),
    )
    tables.ensure()
    operations.clear()
    client = budgeted_client(credly, world, tables, RetryPolicy(attempts=1), seen)

    # When it reads ten pages one after the other.
    for number in range(1, 11):
        client.badge_page(1 + number % 4)

    # Then each took its slot (one insert) and gave it back (one delete): two operations.
    assert len(seen.seen) == 10
    assert operations == ["POST", "DELETE"] * 10
