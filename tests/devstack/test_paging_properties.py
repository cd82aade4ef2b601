"""Properties of the two paging contracts the connector leans on hardest, over random data.

- Credly: following `next_page_url` from page 1 yields every matching badge exactly once, in
  the requested order, on `ceil(n / 50)` pages.
- Graph: a client that replays `users/delta` rounds (initial sync, then delta links) always
  ends with exactly the directory's users, whatever changed in between.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devstack.credly.records import AuthToken, BadgeTemplate, CredlyData, IssuedBadge, Organization
from devstack.credly.server import CredlyStandIn
from devstack.graph.directory import Directory, DirectoryUser
from devstack.graph.server import GraphStandIn

ORG = "3f0c1d52-0000-4000-8000-000000000001"
TOKEN = "paging-token"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
STATES = ("pending", "accepted", "rejected", "revoked", "replaced")
PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def credly() -> Iterator[CredlyStandIn]:
    data = CredlyData()
    data.add_org(
        Organization(
            id=ORG,
            name="Paging Org",
            vanity_slug="paging-org",
            created_at=T0,
            tokens=[AuthToken(id="t1", token=TOKEN, created_at=T0, expires_at=None)],
        )
    )
    data.add_template(
        BadgeTemplate(
            id="tmpl",
            owner_org_id=ORG,
            name="Template",
            description="d",
            certification=True,
            skills=["Skill"],
            vanity_slug="tmpl",
            image_id="img",
            created_at=T0,
        )
    )
    with CredlyStandIn(data) as running:
        yield running


def _reset_badges(standin: CredlyStandIn, specs: list[tuple[int, str, int]]) -> None:
    store = standin.data
    for badge in store.org_badges(ORG):
        store.remove_badge(ORG, badge.id)
    for n, (issued_minute, state, updated_minute) in enumerate(specs):
        store.put_badge(
            IssuedBadge(
                id=f"b{n:05d}",
                org_id=ORG,
                template_id="tmpl",
                recipient_email=f"person{n % 7}@example.com",
                issued_to_first_name="P",
                issued_to_last_name=str(n),
                user_id=None,
                state=state,
                public=True,
                issued_at=T0 + timedelta(minutes=issued_minute),
                expires_at=None,
                created_at=T0 + timedelta(minutes=issued_minute),
                updated_at=T0 + timedelta(minutes=updated_minute),
                state_updated_at=T0 + timedelta(minutes=updated_minute),
            )
        )


def _crawl(standin: CredlyStandIn, params: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """Follow next_page_url from page 1; the badges seen and the number of pages read."""
    seen: list[dict[str, Any]] = []
    pages = 0
    first = f"{standin.api_url}/organizations/{ORG}/badges"
    with requests.Session() as session:
        session.auth = (TOKEN, "")
        answer = session.get(first, params=params, timeout=10)
        while True:
            assert answer.status_code == 200, answer.text
            body = answer.json()
            pages += 1
            seen.extend(body["data"])
            url = body["metadata"]["next_page_url"]
            if url is None or pages > 1000:
                break
            answer = session.get(url, timeout=10)
    return seen, pages


def _badge_specs(count: int, seed: int) -> list[tuple[int, str, int]]:
    """`count` badges with random issue/update minutes (ties included) and states."""
    rng = random.Random(seed)
    return [(rng.randrange(300), rng.choice(STATES), rng.randrange(300)) for _ in range(count)]


@PROPERTY_SETTINGS
@given(
    count=st.integers(min_value=0, max_value=170),
    seed=st.integers(min_value=0, max_value=2**32),
    sort=st.sampled_from(["created_at", "issued_at"]),
    states=st.sets(st.sampled_from(STATES), min_size=1),
    since=st.none() | st.integers(min_value=0, max_value=300),
)
@example(count=50, seed=1, sort="created_at", states={*STATES}, since=None)
@example(count=51, seed=2, sort="issued_at", states={*STATES}, since=0)
@example(count=101, seed=3, sort="created_at", states={*STATES}, since=150)
@example(count=170, seed=4, sort="issued_at", states={"accepted", "pending"}, since=None)
def test_credly_paging_yields_each_match_once_in_order(
    credly: CredlyStandIn,
    *,
    count: int,
    seed: int,
    sort: str,
    states: set[str],
    since: int | None,
) -> None:
    _reset_badges(credly, _badge_specs(count, seed))
    filters = [f"state::{','.join(sorted(states))}"]
    if since is not None:
        filters.append(f"updated_at_min::{(T0 + timedelta(minutes=since)).isoformat()}")
    params = {"sort": sort, "filter": "|".join(filters)}

    seen, pages = _crawl(credly, params)

    expected = [
        b
        for b in credly.data.org_badges(ORG)
        if b.state in states and (since is None or b.updated_at >= T0 + timedelta(minutes=since))
    ]
    ids = [b["id"] for b in seen]
    assert sorted(ids) == sorted(b.id for b in expected)
    assert len(ids) == len(set(ids))
    assert pages == max(1, math.ceil(len(expected) / 50))
    values = [b[sort] for b in seen]
    assert values == sorted(values)


def _user(n: int, version: int) -> DirectoryUser:
    return DirectoryUser(
        id=f"00000000-0000-4000-8000-{n:012d}",
        display_name=f"User {n} v{version}",
        user_principal_name=f"user{n}@contoso.com",
        mail=f"user{n}@contoso.com",
    )


def _delta_round(graph: GraphStandIn, url: str, replica: dict[str, str]) -> str:
    """Apply one delta round to the replica (id -> displayName); the next delta link."""
    headers = {"Authorization": f"Bearer {graph.token()}", "Prefer": "odata.maxpagesize=7"}
    with requests.Session() as session:
        for _ in range(1000):
            answer = session.get(url, headers=headers, timeout=10)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            for entry in body["value"]:
                if "@removed" in entry:
                    replica.pop(entry["id"], None)
                else:
                    replica[entry["id"]] = entry["displayName"]
            if "@odata.deltaLink" in body:
                return str(body["@odata.deltaLink"])
            url = body["@odata.nextLink"]
    raise AssertionError("delta round never ended")


changes = st.lists(
    st.tuples(st.sampled_from(["upsert", "remove"]), st.integers(min_value=0, max_value=40)),
    max_size=60,
)


@PROPERTY_SETTINGS
@given(initial=st.integers(min_value=0, max_value=30), rounds=st.lists(changes, max_size=4))
def test_graph_delta_replica_converges_to_the_directory(
    initial: int, rounds: list[list[tuple[str, int]]]
) -> None:
    directory = Directory()
    for n in range(initial):
        directory.upsert(_user(n, 0))
    with GraphStandIn(directory) as graph:
        replica: dict[str, str] = {}
        link = _delta_round(graph, f"{graph.graph_url}/users/delta?$select=id,displayName", replica)
        for version, round_changes in enumerate(rounds, start=1):
            for action, n in round_changes:
                user = _user(n, version)
                if action == "upsert":
                    directory.upsert(user)
                elif directory.get(user.id) is not None:
                    directory.remove(user.id)
            link = _delta_round(graph, link, replica)
            assert replica == {u.id: u.display_name for u in directory.users()}
        assert replica == {u.id: u.display_name for u in directory.users()}
