"""The local stack's self-check: start everything, make one authenticated call to each, stop."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from azure.data.tables import TableServiceClient

from devstack.azurite import Azurite
from devstack.credly.server import CredlyStandIn
from devstack.graph.server import GraphStandIn
from devstack.synthetic import World, WorldSpec, build_world

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CheckResult:
    """One line of the self-check's report."""

    name: str
    ok: bool
    detail: str
    seconds: float


def _timed(name: str, check: Callable[[], str]) -> CheckResult:
    started = time.monotonic()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a self-check reports every failure instead of stopping
        detail = f"{type(exc).__name__}: {exc}"
        ok = False
    return CheckResult(name, ok, detail, time.monotonic() - started)


def check_azurite(azurite: Azurite) -> str:
    """Write and read back one entity with the development account key."""
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    table = service.create_table_if_not_exists("selfcheck")
    key = uuid.uuid4().hex
    table.upsert_entity({"PartitionKey": "selfcheck", "RowKey": key, "ok": True})
    assert table.get_entity("selfcheck", key)["ok"] is True
    service.delete_table("selfcheck")
    return f"table round-trip on {azurite.endpoints.url('table')}"


def check_credly(credly: CredlyStandIn, world: World) -> str:
    """Read the organisation and the first badge page with the organisation's token."""
    org = world.credly.orgs[world.org_ids[0]]
    token = org.tokens[0].token
    auth = "Basic " + base64.b64encode(f"{token}:".encode()).decode()
    answer = requests.get(
        f"{credly.api_url}/organizations/{org.id}/badges",
        headers={"Authorization": auth, "Accept": "application/json"},
        timeout=TIMEOUT_S,
    )
    answer.raise_for_status()
    meta = answer.json()["metadata"]
    return (
        f"organisation {org.id}: {meta['total_count']} badges on {meta['total_pages']} pages "
        f"at {credly.api_url}"
    )


def check_graph(graph: GraphStandIn) -> str:
    """Obtain an app token, then read the first page of users/delta with it."""
    app = graph.apps[0]
    token = requests.post(
        f"{graph.base_url}/{graph.tenant_id}/oauth2/v2.0/token",
        data={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default",
        },
        timeout=TIMEOUT_S,
    )
    token.raise_for_status()
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    delta = requests.get(
        f"{graph.graph_url}/users/delta",
        params={"$select": "id,userPrincipalName,mail"},
        headers=bearer,
        timeout=TIMEOUT_S,
    )
    delta.raise_for_status()
    return f"token issued; users/delta page of {len(delta.json()['value'])} at {graph.graph_url}"


def run_selfcheck(badges: int = 200, seed: int = 1) -> list[CheckResult]:
    """Start Azurite and both stand-ins, check each once, and stop them all."""
    # The stand-ins run on the real clock, so the world (and its tokens' expiry) must too.
    world = build_world(WorldSpec(seed=seed, badges=badges, now=datetime.now(UTC)))
    results: list[CheckResult] = []
    with (
        Azurite() as azurite,
        CredlyStandIn(world.credly) as credly,
        GraphStandIn(world.directory, tenant_id=world.tenant_id) as graph,
    ):
        results.append(_timed("azurite", lambda: check_azurite(azurite)))
        results.append(_timed("credly", lambda: check_credly(credly, world)))
        results.append(_timed("graph", lambda: check_graph(graph)))
    return results


def format_report(results: list[CheckResult]) -> str:
    """A plain-text report, one line per check, and a closing summary line."""
    lines = [
        f"{'ok ' if r.ok else 'FAIL'} {r.name:<8} {r.seconds * 1000:7.0f} ms  {r.detail}"
        for r in results
    ]
    passed = sum(r.ok for r in results)
    lines.append(f"selfcheck: {passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)
