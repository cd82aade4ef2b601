"""GraphClient against the Graph stand-in over plain HTTP with a fixed bearer token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest

from credly_connector.directory import DirectoryChange, DirectoryUser
from credly_connector.errors import AuthenticationError, RequestError, RetryableError
from credly_connector.graph import (
    DeltaExpiredError,
    DeltaPage,
    FixedTokenCredential,
    GraphClient,
    WritePacer,
    open_graph_client,
)
from credly_connector.retry import RetryPolicy
from devstack.graph.directory import Directory
from devstack.graph.identity import DEFAULT_TENANT_ID, App
from devstack.graph.rules.problems import INVALID_REQUEST
from devstack.graph.server import GraphStandIn
from devstack.standin import Fault, FaultKind, RateLimit
from tests.graph.conftest import CONNECTION, FakeTime, directory_user, run

T = TypeVar("T")
Event = tuple[str, str, int | None]

FAST_RETRY = RetryPolicy(attempts=3, backoff_s=0.5, jitter=0.0)


def item(item_id: str = "u1", upn: str = "user1@contoso.onmicrosoft.com") -> dict[str, Any]:
    """An item as the item composer makes it: JSON-encoded entity strings, type annotations."""
    return {
        "id": item_id,
        "acl": [{"type": "everyone", "value": DEFAULT_TENANT_ID, "accessType": "grant"}],
        "properties": {
            "accountInformation": json.dumps({"userPrincipalName": upn}),
            "certifications@odata.type": "Collection(String)",
            "certifications": [
                json.dumps({"displayName": "Azure Administrator", "issuedDate": "2025-03-14"}),
                json.dumps({"displayName": "Zoë's Ünïcode badge", "issuingAuthority": "Credly"}),
            ],
            "awards@odata.type": "Collection(String)",
            "awards": [],
        },
    }


class Harness:
    """Opens a GraphClient on the stand-in, recording every attempt and retry wait."""

    def __init__(self, graph: GraphStandIn, fake_time: FakeTime) -> None:
        self.graph = graph
        self.time = fake_time
        self.events: list[Event] = []
        self.retries: list[tuple[str, float]] = []

    @asynccontextmanager
    async def client(
        self,
        *,
        token: str | None = None,
        retry: RetryPolicy = FAST_RETRY,
        pacer: WritePacer | None = None,
    ) -> AsyncIterator[GraphClient]:
        credential = FixedTokenCredential(token or self.graph.token())
        async with open_graph_client(
            credential,
            base_url=self.graph.graph_url,
            timeout_s=5.0,
            retry=retry,
            pacer=pacer,
            on_request=lambda *event: self.events.append(event),
            on_retry=lambda kind, _error, wait: self.retries.append((kind, wait)),
            sleep=self.time.sleep,
        ) as client:
            yield client

    def run(self, scenario: Callable[[GraphClient], Awaitable[T]], **options: Any) -> T:
        async def opened() -> T:
            async with self.client(**options) as client:
                return await scenario(client)

        return run(opened())


@pytest.fixture
def harness(graph: GraphStandIn, fake_time: FakeTime) -> Harness:
    return Harness(graph, fake_time)


async def read_round(
    client: GraphClient, delta_link: str | None, page_size: int
) -> list[DeltaPage]:
    return [page async for page in client.users_delta(delta_link, page_size=page_size)]


# -- items ----------------------------------------------------------------------------------


def test_put_stores_exactly_the_body_sent_then_delete_removes_it(
    harness: Harness, graph: GraphStandIn, people: str
) -> None:
    body = item()

    async def scenario(client: GraphClient) -> tuple[dict[str, Any], list[Any], bool]:
        await client.put_item(people, body)
        stored = graph.state.connectors.items(people)
        ignored = graph.state.connectors.ignored_values(people, "u1")
        return stored, ignored, await client.delete_item(people, "u1")

    stored, ignored, deleted = harness.run(scenario)

    assert stored == {"u1": body}
    assert ignored == []
    assert deleted is True
    assert graph.state.connectors.items(people) == {}
    assert harness.events == [("PUT", "items.put", 200), ("DELETE", "items.delete", 204)]


def test_put_replaces_an_item_and_is_idempotent(
    harness: Harness, graph: GraphStandIn, people: str
) -> None:
    first, second = item(), item()
    second["properties"]["awards"] = [json.dumps({"displayName": "Innovation Award"})]

    async def scenario(client: GraphClient) -> None:
        await client.put_item(people, first)
        await client.put_item(people, second)
        await client.put_item(people, second)

    harness.run(scenario)

    assert graph.state.connectors.items(people) == {"u1": second}
    assert graph.state.connectors.write_count(people) == 3


def test_delete_of_a_missing_item_returns_false(harness: Harness, people: str) -> None:
    async def scenario(client: GraphClient) -> bool:
        return await client.delete_item(people, "nobody")

    assert harness.run(scenario) is False
    assert harness.events == [("DELETE", "items.delete", 404)]


def test_refused_item_raises_request_error_with_the_odata_code(
    harness: Harness, graph: GraphStandIn, people: str
) -> None:
    async def scenario(client: GraphClient) -> None:
        await client.put_item(people, item("not-valid"))

    with pytest.raises(RequestError) as raised:
        harness.run(scenario)

    assert raised.value.status == 400
    assert raised.value.code == INVALID_REQUEST
    assert "'not-valid' is invalid" in str(raised.value)
    assert graph.state.connectors.items(people) == {}
    assert harness.retries == []


def test_item_without_id_is_refused_before_sending(harness: Harness, people: str) -> None:
    body = item()
    del body["id"]

    async def scenario(client: GraphClient) -> None:
        await client.put_item(people, body)

    with pytest.raises(ValueError, match="'id'"):
        harness.run(scenario)
    assert harness.events == []


# -- connections ----------------------------------------------------------------------------


def test_get_connection_returns_its_state_or_none(harness: Harness, people: str) -> None:
    async def scenario(client: GraphClient) -> tuple[Any, Any]:
        return await client.get_connection(people), await client.get_connection("missing")

    found, missing = harness.run(scenario)

    assert found == {
        "id": CONNECTION,
        "name": "Credly",
        "description": None,
        "contentCategory": "people",
        "connectorId": None,
        "state": "ready",
    }
    assert missing is None
    assert harness.events == [("GET", "connections.get", 200), ("GET", "connections.get", 404)]


# -- users/delta ----------------------------------------------------------------------------


def expected_user(n: int, **fields: Any) -> DirectoryUser:
    values: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "user_principal_name": f"user{n}@contoso.onmicrosoft.com",
        "mail": f"User{n}@contoso.com",
        "proxy_addresses": (f"SMTP:User{n}@contoso.com", f"smtp:u{n}@contoso.net"),
        "account_enabled": True,
        "licensed": bool(n % 2),
    }
    values.update(fields)
    return DirectoryUser(**values)


def test_users_delta_reads_every_page_then_only_the_changes(
    harness: Harness, graph: GraphStandIn, directory: Directory
) -> None:
    async def scenario(client: GraphClient) -> tuple[list[DeltaPage], list[DeltaPage]]:
        # given: a full read of seven users in pages of three
        first = await read_round(client, None, 3)
        delta_link = first[-1].delta_link
        assert delta_link is not None
        # when: the directory changes and the stored delta link is followed
        directory.upsert(directory_user(3, account_enabled=False, mail=None))
        directory.upsert(directory_user(9))
        directory.remove(directory_user(5).id)
        return first, await read_round(client, delta_link, 3)

    first, second = harness.run(scenario)

    # then: the full read has every user once, mapped, across linked pages
    assert [len(p.changes) for p in first] == [3, 3, 1]
    assert all(p.next_link is not None and p.delta_link is None for p in first[:-1])
    assert first[-1].next_link is None
    assert [c.user for p in first for c in p.changes] == [expected_user(n) for n in range(1, 8)]
    (query,) = [e.query for e in graph.server.requests.entries("delta")][:1]
    assert parse_qs(query) == {
        "$select": ["id,userPrincipalName,mail,proxyAddresses,accountEnabled,assignedLicenses"]
    }
    # then: the delta round holds exactly the update, the removal and the new user
    assert [p.changes for p in second] == [
        [
            DirectoryChange(
                expected_user(3).id, expected_user(3, account_enabled=False, mail=None)
            ),
            DirectoryChange(expected_user(5).id, None),
            DirectoryChange(expected_user(9).id, expected_user(9)),
        ]
    ]
    assert second[-1].delta_link is not None
    assert harness.events == [("GET", "users.delta", 200)] * 4


def test_expired_delta_link_raises_delta_expired(
    harness: Harness, graph: GraphStandIn, directory: Directory
) -> None:
    async def scenario(client: GraphClient) -> None:
        (page,) = await read_round(client, None, 100)
        directory.expire_delta_tokens()
        await read_round(client, page.delta_link, 100)

    with pytest.raises(DeltaExpiredError) as raised:
        harness.run(scenario)

    assert raised.value.code == "SyncStateNotFound"
    assert graph.server.requests.count("delta", "GET", 410) == 1  # not retried
    assert harness.retries == []


def test_users_delta_follows_a_stored_link_started_in_another_client(
    harness: Harness, directory: Directory
) -> None:
    async def full(client: GraphClient) -> str | None:
        return (await read_round(client, None, 100))[-1].delta_link

    delta_link = harness.run(full)
    directory.upsert(replace(directory_user(2), user_principal_name="renamed@contoso.com"))

    async def changes(client: GraphClient) -> list[DeltaPage]:
        return await read_round(client, delta_link, 100)

    (page,) = harness.run(changes)
    assert [c.user.user_principal_name for c in page.changes if c.user] == ["renamed@contoso.com"]


def test_a_stored_delta_link_with_an_unreadable_port_is_never_sent(
    harness: Harness, graph: GraphStandIn
) -> None:
    async def scenario(client: GraphClient) -> list[DeltaPage]:
        (page,) = await read_round(client, None, 100)
        assert page.delta_link is not None
        parts = urlsplit(page.delta_link)
        bad_port = urlunsplit(parts._replace(netloc=f"{parts.hostname}:99999"))
        return await read_round(client, bad_port, 100)

    with pytest.raises(RequestError, match="another host"):
        harness.run(scenario)

    assert graph.server.requests.count("delta", "GET") == 1  # the full round only


# -- retries and throttling -----------------------------------------------------------------


def test_throttled_write_waits_retry_after_then_succeeds(
    harness: Harness, graph: GraphStandIn, people: str, fake_time: FakeTime
) -> None:
    # given: items limited to one write per second, on the test's fake clock
    graph.knobs.set_rate_limit("items", RateLimit(per_second=1, burst=1))
    writes = WritePacer(clock=fake_time.clock, sleep=fake_time.sleep)

    async def scenario(client: GraphClient) -> None:
        await client.put_item(people, item("u1"))
        # when: a second write comes at once
        await client.put_item(people, item("u2"))

    harness.run(scenario, pacer=writes)

    # then: it was throttled, waited the Retry-After second, and went through
    assert harness.events == [
        ("PUT", "items.put", 200),
        ("PUT", "items.put", 429),
        ("PUT", "items.put", 200),
    ]
    assert harness.retries == [("items.put", 1.0)]
    assert set(graph.state.connectors.items(people)) == {"u1", "u2"}
    # and: the pacer's gate was closed for everyone until then
    assert writes.throttles == 1
    assert writes.gate_until <= fake_time.now


def test_other_writers_wait_at_the_gate_after_a_429(
    harness: Harness, graph: GraphStandIn, people: str, fake_time: FakeTime
) -> None:
    graph.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="items", status=429, retry_after=3, times=1)
    )
    writes = WritePacer(concurrency=1, clock=fake_time.clock, sleep=fake_time.sleep)

    async def scenario(client: GraphClient) -> list[float]:
        await client.put_item(people, item("u1"))  # throttled, waits, retried
        gate = writes.gate_until
        await client.put_item(people, item("u2"))
        return [gate]

    (gate,) = harness.run(scenario, pacer=writes)

    assert gate == pytest.approx(1003.0)
    assert fake_time.slept == [3.0]
    assert [e[2] for e in harness.events] == [429, 200, 200]


def test_unavailable_reads_are_retried(harness: Harness, graph: GraphStandIn) -> None:
    graph.knobs.add_fault(Fault(FaultKind.STATUS, route_class="delta", status=503, times=2))

    async def scenario(client: GraphClient) -> list[DeltaPage]:
        return await read_round(client, None, 100)

    (page,) = harness.run(scenario)

    assert len(page.changes) == 7
    assert harness.events == [
        ("GET", "users.delta", 503),
        ("GET", "users.delta", 503),
        ("GET", "users.delta", 200),
    ]
    assert harness.retries == [("users.delta", 0.5), ("users.delta", 1.0)]
    # the SDK's own retry handler is off: every attempt is one of ours
    assert graph.server.requests.count("delta", "GET", 503) == 2


def test_a_persistent_500_on_a_write_surfaces_after_the_policys_attempts(
    harness: Harness, graph: GraphStandIn, people: str
) -> None:
    graph.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="items", method="PUT", status=500, times=None)
    )

    async def scenario(client: GraphClient) -> None:
        await client.put_item(people, item())

    with pytest.raises(RetryableError) as raised:
        harness.run(scenario)

    assert raised.value.status == 500
    assert "InternalServerError" in str(raised.value)
    assert graph.server.requests.count("items", "PUT", 500) == FAST_RETRY.attempts
    assert len(harness.retries) == FAST_RETRY.attempts - 1


def test_a_server_wait_longer_than_the_policy_accepts_is_not_waited(
    harness: Harness, graph: GraphStandIn, people: str
) -> None:
    graph.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="items", status=503, retry_after=600, times=1)
    )

    async def scenario(client: GraphClient) -> None:
        await client.put_item(people, item())

    with pytest.raises(RetryableError) as raised:
        harness.run(scenario)

    assert raised.value.retry_after == 600.0
    assert harness.retries == []


def test_dropped_connections_and_cut_bodies_are_retried(
    harness: Harness, graph: GraphStandIn
) -> None:
    # (each fault fires once; the second only sees requests the first let through)
    graph.knobs.add_fault(Fault(FaultKind.RESET, route_class="delta", times=1))
    graph.knobs.add_fault(Fault(FaultKind.TRUNCATED_JSON, route_class="delta", times=1))

    async def scenario(client: GraphClient) -> list[DeltaPage]:
        return await read_round(client, None, 100)

    (page,) = harness.run(scenario)

    assert len(page.changes) == 7
    assert [e[2] for e in harness.events] == [None, 200, 200]
    assert len(harness.retries) == 2


# -- authentication -------------------------------------------------------------------------


def test_a_bad_token_raises_authentication_error(harness: Harness, people: str) -> None:
    async def scenario(client: GraphClient) -> None:
        await client.put_item(people, item())

    with pytest.raises(AuthenticationError) as raised:
        harness.run(scenario, token="not-a-token")

    assert "401 InvalidAuthenticationToken" in str(raised.value)
    assert harness.events == [("PUT", "items.put", 401)]


def test_a_missing_permission_is_named(harness: Harness, graph: GraphStandIn, people: str) -> None:
    reader = App("11111111-2222-3333-4444-555555555555", "s", frozenset({"User.Read.All"}))
    graph.register_app(reader)

    async def scenario(client: GraphClient) -> None:
        await client.put_item(people, item())

    with pytest.raises(AuthenticationError) as raised:
        harness.run(scenario, token=graph.token(reader.client_id))

    assert "ExternalItem.ReadWrite.OwnedBy" in raised.value.fix
    assert harness.events == [("PUT", "items.put", 403)]
