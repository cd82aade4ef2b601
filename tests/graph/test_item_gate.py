"""The Graph stand-in's item rules across services, and how the client copes with them.

Graph's `acl` resource takes the tenant id as an `everyone` entry's value; field reports say
items written just after a profile source is registered can be refused for about a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from credly_connector.graph.auth import FixedTokenCredential
from credly_connector.graph.client import open_graph_client
from credly_connector.graph.errors import PROFILE_SOURCE_NOT_READY
from credly_connector.graph.profile_source import profile_source_body
from credly_connector.retry import RetryPolicy
from devstack.graph.directory import Directory
from devstack.graph.item_gate import NOT_READY_CODE, WARMUP_MODE
from devstack.graph.server import GraphStandIn
from tests.graph.conftest import CONNECTION, create_people_connection, run
from tests.graph.test_client import item


class ManualClock:
    """Monotonic seconds that move only when told (the stand-in's and the client's)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def standin(directory: Directory, clock: ManualClock) -> Iterator[GraphStandIn]:
    with GraphStandIn(directory, clock=clock, schema_delay_s=0) as graph:
        create_people_connection(graph)
        yield graph
        assert graph.server.internal_errors == []


def api(graph: GraphStandIn) -> httpx.Client:
    headers = {"Authorization": f"Bearer {graph.token()}"}
    return httpx.Client(base_url=graph.graph_url, headers=headers, timeout=5)


def register_source(graph: GraphStandIn) -> None:
    with api(graph) as client:
        created = client.post(
            "/admin/people/profileSources",
            json=profile_source_body(CONNECTION, "https://www.credly.com"),
        )
        assert created.status_code == 201, created.text


def put(graph: GraphStandIn, body: dict[str, Any]) -> httpx.Response:
    with api(graph) as client:
        return client.put(f"/external/connections/{CONNECTION}/items/u1", json=body)


def test_the_literal_everyone_is_refused_and_the_tenant_id_accepted(
    standin: GraphStandIn,
) -> None:
    literal = {**item(), "acl": [{"type": "everyone", "value": "everyone", "accessType": "grant"}]}

    refused = put(standin, literal)
    accepted = put(standin, item())

    assert refused.status_code == 400
    assert "tenant id" in refused.json()["error"]["message"]
    assert accepted.status_code == 200
    stored = standin.state.connectors.items(CONNECTION)["u1"]
    assert stored["acl"][0]["value"] == standin.tenant_id


def test_item_writes_are_refused_for_the_warm_up_after_the_source_is_registered(
    standin: GraphStandIn, clock: ManualClock
) -> None:
    standin.knobs.set_mode(WARMUP_MODE, "60")
    register_source(standin)
    clock.now += 20

    refused = put(standin, item())
    clock.now += 41
    accepted = put(standin, item())

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == NOT_READY_CODE == PROFILE_SOURCE_NOT_READY
    assert refused.headers["Retry-After"] == "40"
    assert accepted.status_code == 200


def test_without_the_knob_a_new_source_refuses_nothing(standin: GraphStandIn) -> None:
    register_source(standin)

    assert put(standin, item()).status_code == 200


def test_the_client_waits_out_the_refusal_and_writes(
    standin: GraphStandIn, clock: ManualClock
) -> None:
    standin.knobs.set_mode(WARMUP_MODE, "30")
    register_source(standin)
    waits: list[float] = []

    async def scenario() -> None:
        credential = FixedTokenCredential(standin.token())
        async with open_graph_client(
            credential,
            base_url=standin.graph_url,
            retry=RetryPolicy(jitter=0.0, clock=clock),
            sleep=clock.sleep,
            on_retry=lambda kind, error, wait: waits.append(wait),
        ) as client:
            await client.put_item(CONNECTION, item())

    run(scenario())

    assert waits == [30.0]
    assert "u1" in standin.state.connectors.items(CONNECTION)
