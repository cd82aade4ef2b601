"""The world control: named changes to the running stack's world, told with names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from devstack.synthetic import World, WorldSpec, build_world
from devstack.world_control import CHANGES, WorldControl


@pytest.fixture
def world() -> World:
    return build_world(WorldSpec(seed=5, badges=80, now=datetime.now(UTC)))


@pytest.fixture
def control(world: World) -> Iterator[WorldControl]:
    with WorldControl(world, seed=5) as running:
        yield running


def test_an_accepted_badge_is_told_with_the_recipient_and_the_badge_name(world, control):
    answer = requests.post(f"{control.base_url}/_world/changes", json={"kind": "accept"}, timeout=5)

    assert answer.status_code == 200
    body = answer.json()
    badge = world.find_badge(body["badgeIds"][-1])
    assert badge is not None
    assert badge.state == "accepted"
    template = world.credly.templates[badge.template_id]
    assert body["description"] == f'{badge.recipient_email} earned "{template.name}" (accepted)'
    assert body["eventIds"], "Credly records an event for a new badge"
    assert body["webhooks"] == [False]


def test_a_disabled_user_is_told_by_upn(world, control):
    body = requests.post(
        f"{control.base_url}/_world/changes", json={"kind": "disable-user"}, timeout=5
    ).json()

    user = world.directory.get(body["userId"])
    assert user is not None
    assert not user.account_enabled
    assert body["description"] == f"{user.user_principal_name} was disabled in Entra ID"


def test_a_revoked_badge_is_named_as_it_was_before(world, control):
    body = control.apply("revoke")

    badge = world.find_badge(body["badgeIds"][-1])
    assert badge is not None
    assert badge.state == "revoked"
    assert body["description"].endswith(f"of {badge.recipient_email} was revoked")
    assert world.credly.templates[badge.template_id].name in body["description"]


def test_the_webhook_url_is_set_for_every_organisation_and_must_be_loopback(world, control):
    url = "http://127.0.0.1:7071/api/credly/events?code=k"

    assert requests.put(f"{control.base_url}/_world/webhook", json={"url": url}, timeout=5).ok
    assert [world.credly.orgs[o].webhook_url for o in world.org_ids] == [url]

    refused = requests.put(
        f"{control.base_url}/_world/webhook", json={"url": "http://example.com/x"}, timeout=5
    )
    assert refused.status_code == 400
    assert world.credly.orgs[world.org_ids[0]].webhook_url == url


def test_an_unknown_change_is_a_400_naming_the_known_ones(control):
    answer = requests.post(f"{control.base_url}/_world/changes", json={"kind": "nope"}, timeout=5)

    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert all(kind in message for kind in CHANGES)
