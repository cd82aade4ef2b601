"""Graph client test fixtures: a fake clock, the Graph stand-in, a people connection."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from devstack.graph.directory import Directory, DirectoryUser
from devstack.graph.server import GraphStandIn
from devstack.standin import Knobs

T = TypeVar("T")

CONNECTION = "credlybadges"
SCENARIO_TIMEOUT_S = 10.0
PEOPLE_SCHEMA: dict[str, Any] = {
    "baseType": "microsoft.graph.externalItem",
    "properties": [
        {"name": "accountInformation", "type": "string", "labels": ["personAccount"]},
        {"name": "certifications", "type": "stringCollection", "labels": ["personCertifications"]},
        {"name": "awards", "type": "stringCollection", "labels": ["personAwards"]},
    ],
}


class FakeTime:
    """A monotonic clock that only moves when someone sleeps on it; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Run one async scenario in a fresh event loop, bounded so a hang fails instead of blocking."""
    return asyncio.run(asyncio.wait_for(scenario, SCENARIO_TIMEOUT_S))


def directory_user(n: int, **fields: Any) -> DirectoryUser:
    values: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "display_name": f"User {n}",
        "user_principal_name": f"user{n}@contoso.onmicrosoft.com",
        "mail": f"User{n}@contoso.com",
        "proxy_addresses": [f"SMTP:User{n}@contoso.com", f"smtp:u{n}@contoso.net"],
        "assigned_licenses": [{"skuId": "c7df2760-2c81-4ef7-b578-5b5392b571df"}] if n % 2 else [],
    }
    values.update(fields)
    return DirectoryUser(**values)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def directory() -> Directory:
    directory = Directory()
    for n in range(1, 8):
        directory.upsert(directory_user(n))
    return directory


@pytest.fixture
def graph(directory: Directory, fake_time: FakeTime) -> Iterator[GraphStandIn]:
    """The Graph stand-in over plain HTTP; its rate limits run on the test's fake clock."""
    knobs = Knobs(clock=fake_time.clock)
    with GraphStandIn(directory, knobs=knobs, schema_delay_s=0) as standin:
        yield standin
        assert standin.server.internal_errors == []


def create_people_connection(graph: GraphStandIn, verify: ssl.SSLContext | bool = True) -> str:
    """A people connection with the people schema registered (ready at once)."""
    headers = {"Authorization": f"Bearer {graph.token()}"}
    with httpx.Client(base_url=graph.graph_url, headers=headers, timeout=5, verify=verify) as api:
        created = api.post(
            "/external/connections",
            json={"id": CONNECTION, "name": "Credly", "contentCategory": "people"},
        )
        assert created.status_code == 201, created.text
        patched = api.patch(
            f"/external/connections/{CONNECTION}/schema",
            json=PEOPLE_SCHEMA,
            headers={"Prefer": "include-unknown-enum-members"},
        )
        assert patched.status_code == 202, patched.text
    assert graph.state.connectors.connection(CONNECTION)["state"] == "ready"
    return CONNECTION


@pytest.fixture
def people(graph: GraphStandIn) -> str:
    return create_people_connection(graph)
