"""The knobs the fault tests turn: query selectors, call faults, expiring Credly tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from devstack.credly.server import CredlyStandIn
from devstack.standin import Fault, FaultKind, Request, Response, StandInServer, route
from devstack.synthetic import WorldSpec, build_world


def _list(request: Request) -> Response:
    return Response.json(200, {"page": request.arg("page")})


@pytest.fixture
def server() -> Iterator[StandInServer]:
    routes = [route("GET", "/list", "list", _list)]
    with StandInServer("knobs", routes, lambda s, c, m: {"error": m}) as running:
        yield running


def statuses(server: StandInServer, *queries: str) -> list[int]:
    return [
        requests.get(f"{server.base_url}/list?{query}", timeout=5).status_code for query in queries
    ]


def test_a_query_selector_picks_one_page_and_not_its_prefixes(server: StandInServer) -> None:
    fault = server.knobs.add_fault(
        Fault(FaultKind.STATUS, status=503, query={"page": "2"}, times=None)
    )

    assert statuses(server, "page=20", "page=2&sort=x", "page=12", "sort=x&page=2") == [
        200,
        503,
        200,
        503,
    ]
    assert fault.fired == 2


def test_an_empty_query_value_asks_only_for_the_parameter(server: StandInServer) -> None:
    server.knobs.add_fault(Fault(FaultKind.STATUS, status=410, query={"$deltatoken": ""}))

    assert statuses(server, "page=1", "%24deltatoken=abc", "%24deltatoken=abc") == [200, 410, 200]


def test_a_call_fault_runs_its_action_then_serves_the_request(server: StandInServer) -> None:
    calls: list[int] = []
    fault = server.knobs.add_fault(
        Fault(FaultKind.CALL, query={"page": "2"}, action=lambda: calls.append(len(calls)))
    )

    answers = [requests.get(f"{server.base_url}/list?page={n}", timeout=5) for n in (1, 2, 2)]

    assert [a.json() for a in answers] == [{"page": "1"}, {"page": "2"}, {"page": "2"}]
    assert calls == [0]
    assert (fault.seen, fault.fired) == (1, 1)
    assert [e.outcome for e in server.requests.entries()] == ["ok", "ok", "ok"]


def test_a_call_fault_needs_an_action_and_has_no_json_form() -> None:
    with pytest.raises(ValueError, match="action"):
        Fault(FaultKind.CALL)
    with pytest.raises(ValueError, match="action"):
        Fault.from_json({"kind": "call"})


def test_the_control_api_takes_a_query_selector(server: StandInServer) -> None:
    control = f"{server.base_url}/_standin/faults"
    added = requests.post(
        control, json={"kind": "status", "status": 502, "query": {"page": "3"}}, timeout=5
    )
    refused = requests.post(control, json={"kind": "status", "query": {"page": 3}}, timeout=5)

    assert added.status_code == 201
    assert added.json()["query"] == {"page": "3"}
    assert refused.status_code == 400
    assert "query" in refused.json()["error"]
    assert statuses(server, "page=3", "page=3") == [502, 200]


def _bearer(credly: CredlyStandIn, client_id: str, secret: str) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    token = requests.post(credly.token_url, data=form, timeout=5).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_expired_credly_access_tokens_answer_401_and_a_new_one_works() -> None:
    world = build_world(WorldSpec(seed=3, badges=5, now=datetime.now(UTC)))
    org = world.credly.orgs[world.org_ids[0]]
    app = org.oauth_apps[0]
    with CredlyStandIn(world.credly) as credly:
        url = f"{credly.api_url}/organizations/{org.id}"
        first = _bearer(credly, app.client_id, app.client_secret)
        assert requests.get(url, headers=first, timeout=5).status_code == 200

        assert credly.expire_access_tokens() == 1
        expired: Any = requests.get(url, headers=first, timeout=5)
        renewed = _bearer(credly, app.client_id, app.client_secret)

        assert expired.status_code == 401
        assert "expired" in expired.text
        assert requests.get(url, headers=renewed, timeout=5).status_code == 200
        assert len(credly.access_grants()) == 2
