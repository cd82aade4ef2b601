"""The rules over a generated world, badges rendered exactly as the Credly stand-in serves them."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import pytest

from credly_connector.directory import DirectoryUser
from credly_connector.rules import (
    MAX_ITEM_BYTES,
    PEOPLE_SCHEMA,
    Badge,
    DirectoryIndex,
    compose_item_report,
    decide_badges,
    item_size,
    parse_badge,
    reasons,
)
from devstack.credly.render import BadgeRenderer
from devstack.graph import rules as graph_rules
from devstack.synthetic import World, WorldSpec, build_world

SCHEMA_BODY = {"baseType": "microsoft.graph.externalItem", "properties": PEOPLE_SCHEMA}
SCHEMA = {p.name: p for p in graph_rules.schema_properties(SCHEMA_BODY)}


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(WorldSpec(seed=1, badges=500))


@pytest.fixture(scope="module")
def parsed(world: World) -> list[Badge]:
    renderer = BadgeRenderer(world.credly)
    badges = []
    for stored in world.credly.iter_all_badges():
        result = parse_badge(renderer.badge(stored), organization_id=stored.org_id)
        assert isinstance(result, Badge), (stored.id, result)
        badges.append(result)
    return badges


def _connector_user(user: Any) -> DirectoryUser:
    return DirectoryUser(
        id=user.id,
        user_principal_name=user.user_principal_name,
        mail=user.mail,
        proxy_addresses=tuple(user.proxy_addresses),
        account_enabled=user.account_enabled,
        licensed=user.has_mailbox,
    )


def test_the_graph_stand_in_accepts_the_people_schema() -> None:
    assert graph_rules.check_schema(SCHEMA_BODY, "people", include_unknown_enum_members=True) == []


def test_every_rendered_badge_parses_with_its_recipient_email(
    world: World, parsed: list[Badge]
) -> None:
    stored = {b.id: b for b in world.credly.iter_all_badges()}
    scripted = 0

    assert len(parsed) == 500
    for badge in parsed:
        original = stored[badge.id]
        assert badge.recipient_email == original.recipient_email.lower()
        assert badge.state == original.state
        assert badge.public is original.public
        assert badge.template_id == original.template_id
        assert badge.replacement_badge_id == original.replacement_badge_id
        template = world.credly.templates[original.template_id]
        assert badge.template_name == template.name
        assert badge.certification is template.certification
        primary = world.credly.orgs[world.template_issuers[template.id][0]]
        assert badge.issuing_authority == primary.name
        assert badge.description
        assert "<" not in badge.description
        assert "alert(" not in badge.description
        scripted += "<script>" in template.description
    assert scripted, "the world should carry the template with a script injection"


def test_the_rules_decide_and_compose_a_whole_world(world: World, parsed: list[Badge]) -> None:
    index = DirectoryIndex(_connector_user(u) for u in world.directory.users())
    by_email: dict[str, list[Badge]] = defaultdict(list)
    for badge in parsed:
        by_email[badge.recipient_email].append(badge)
    reason_counts: Counter[str | None] = Counter()
    included: dict[str, list[Badge]] = defaultdict(list)

    for email, badges in by_email.items():
        resolution = index.resolve(email)
        decisions = decide_badges(resolution, badges, now=world.clock, include_expired=False)
        reason_counts.update(d.reason for d in decisions)
        for badge, decision in zip(badges, decisions, strict=True):
            if decision.included:
                assert resolution.user is not None
                included[resolution.user.id].append(badge)

    # The generated world holds every kind of badge and recipient the rules tell apart.
    assert set(reason_counts) >= {
        None,
        reasons.NOT_ACCEPTED,
        reasons.REVOKED,
        reasons.REPLACED,
        reasons.PRIVATE,
        reasons.EXPIRED,
        reasons.UNMATCHED_EMAIL,
    }
    assert included
    for user_id, badges in included.items():
        user = index.user(user_id)
        assert user is not None
        composed = compose_item_report(
            user, badges, web_url="https://www.credly.com", index_skills=True
        )
        assert composed is not None
        assert composed.dropped_entries == 0
        assert item_size(composed.item) <= MAX_ITEM_BYTES
        properties = composed.item["properties"]
        entries = [json.loads(v) for v in properties["certifications"] + properties["awards"]]
        verdict = graph_rules.check_item(composed.item["id"], composed.item, SCHEMA, people=True)
        assert verdict.problems == []
        assert verdict.ignored == []
        assert sorted(e["webUrl"].rsplit("/", 1)[1] for e in entries) == sorted(
            b.id for b in badges
        )
