"""Tests of the synthetic organisation generator and its mutations."""

from __future__ import annotations

import dataclasses
import random
import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.credly.records import IssuedBadge
from devstack.graph.directory import DirectoryUser
from devstack.synthetic import (
    EmailRelation,
    Mutation,
    MutationKind,
    Mutator,
    NoEligibleTargetError,
    Person,
    World,
    WorldSpec,
    build_world,
)
from devstack.synthetic.draws import new_id

PAGE_SIZE = 50
NOW = datetime(2026, 11, 1, tzinfo=UTC)
RTL = re.compile(r"[\u0590-\u05ff\u0600-\u06ff]")
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
EMOJI = re.compile(r"[\U0001f300-\U0001faff]")


# Helpers ----------------------------------------------------------------------------------


def _fields(record: Any) -> tuple[Any, ...]:
    return tuple(getattr(record, f.name) for f in dataclasses.fields(record))


def _snapshot(world: World) -> str:
    """Everything both stores hold plus the ground truth, as one comparable string."""
    credly = world.credly
    parts: list[Any] = [
        world.tenant_id,
        world.org_ids,
        world.partner_org_ids,
        [_fields(o) for o in credly.orgs.values()],
        [_fields(t) for t in credly.templates.values()],
        [_fields(u) for u in credly.users.values()],
        [_fields(b) for b in credly.iter_all_badges()],
        [_fields(e) for e in credly.events.values()],
        [u.to_graph() for u in world.directory.users()],
        [_fields(p) for p in world.people],
    ]
    return repr(parts)


def _badges(world: World) -> list[IssuedBadge]:
    return [b for org_id in world.org_ids for b in world.credly.org_badges(org_id)]


def _user(world: World, person: Person) -> DirectoryUser:
    assert person.directory_user_id is not None
    user = world.directory.get(person.directory_user_id)
    assert user is not None
    return user


def _proxy_aliases(user: DirectoryUser) -> list[str]:
    return [p[5:].lower() for p in user.proxy_addresses if p.startswith("smtp:")]


def _directory_value(user: DirectoryUser, relation: EmailRelation, email: str) -> str | None:
    """The directory's own spelling of `email` under `relation`, or None if it is not there."""
    wanted = email.lower()
    candidates: list[str] = []
    if relation is EmailRelation.MAIL and user.mail is not None:
        candidates = [user.mail]
    elif relation is EmailRelation.UPN:
        candidates = [user.user_principal_name]
    elif relation is EmailRelation.PROXY_ALIAS:
        candidates = [p[5:] for p in user.proxy_addresses if p.startswith("smtp:")]
    elif relation is EmailRelation.OTHER_MAIL:
        candidates = list(user.other_mails)
    return next((c for c in candidates if c.lower() == wanted), None)


def _all_directory_addresses(world: World) -> set[str]:
    found: set[str] = set()
    for user in world.directory.users():
        found.add(user.user_principal_name.lower())
        if user.mail:
            found.add(user.mail.lower())
        found.update(p.split(":", 1)[1].lower() for p in user.proxy_addresses)
        found.update(m.lower() for m in user.other_mails)
    return found


@pytest.fixture(scope="module")
def world() -> World:
    """A mid-sized world shared by the read-only tests."""
    return build_world(WorldSpec(seed=7, badges=5000, organisations=2))


@pytest.fixture
def small_world() -> World:
    """A fresh world for one mutation test."""
    return build_world(WorldSpec(seed=11, badges=1500))


# Determinism and size ---------------------------------------------------------------------


def test_same_seed_builds_identical_worlds() -> None:
    spec = WorldSpec(seed=3, badges=1200, organisations=2)

    first, second = build_world(spec), build_world(spec)

    assert _snapshot(first) == _snapshot(second)


def test_different_seeds_build_different_worlds() -> None:
    first = build_world(WorldSpec(seed=1, badges=300))
    second = build_world(WorldSpec(seed=2, badges=300))

    assert [b.id for b in _badges(first)] != [b.id for b in _badges(second)]
    assert [u.id for u in first.directory.users()] != [u.id for u in second.directory.users()]


@pytest.mark.parametrize("badges", [1, 12, 40, 20_000])
def test_builds_exactly_the_requested_badge_count(badges: int) -> None:
    world = build_world(WorldSpec(seed=5, badges=badges))

    assert world.badge_count == badges
    assert sum(len(p.badge_ids) for p in world.people) == badges


def test_default_people_count_follows_the_badge_count() -> None:
    world = build_world(WorldSpec(seed=5, badges=20_000))

    assert len(world.people) == 8000
    holders = sum(1 for p in world.people if p.badge_ids)
    assert 0.9 * 8000 < holders <= 8000


def test_new_id_matches_the_uuid_module() -> None:
    drawn = new_id(random.Random(42))

    assert drawn == str(uuid.UUID(int=random.Random(42).getrandbits(128), version=4))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: WorldSpec(now=datetime(2026, 11, 1)), "timezone-aware"),  # noqa: DTZ001 - the naive clock is what is under test
        (lambda: WorldSpec(badges=-1), "badges"),
        (lambda: WorldSpec(organisations=0), "organisation"),
    ],
)
def test_invalid_specs_are_refused(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_ids_are_version_4_uuids(world: World) -> None:
    ids = [b.id for b in _badges(world)] + [u.id for u in world.directory.users()]
    ids += [world.tenant_id, *world.org_ids]

    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)
    assert len(set(ids)) == len(ids)


# Organisations, templates, timestamps -----------------------------------------------------


def test_each_organisation_has_its_own_credentials(world: World) -> None:
    orgs = [world.credly.orgs[org_id] for org_id in world.org_ids]

    tokens = {o.tokens[0].token for o in orgs}
    clients = {o.oauth_apps[0].client_id for o in orgs}
    assert len(tokens) == len(clients) == 2
    for org in orgs:
        found = world.credly.find_token(org.tokens[0].token)
        assert found is not None
        assert found[0] is org
        assert org.tokens[0].expires_at == NOW + timedelta(days=150)
        assert world.credly.org_badges(org.id)


def test_partners_hold_no_credentials_and_no_badges(world: World) -> None:
    assert 3 <= len(world.partner_org_ids) <= 5
    for org_id in world.partner_org_ids:
        assert world.credly.orgs[org_id].tokens == []
        assert world.credly.org_badges(org_id) == []


def test_timestamps_are_utc_millisecond_and_before_now(world: World) -> None:
    for badge in _badges(world):
        stamps = [badge.issued_at, badge.created_at, badge.updated_at, badge.state_updated_at]
        if badge.accepted_at is not None:
            stamps.append(badge.accepted_at)
        assert all(s.tzinfo is UTC and s.microsecond % 1000 == 0 and s <= NOW for s in stamps)
        assert badge.issued_at <= badge.state_updated_at <= badge.updated_at


def test_issue_order_is_chronological(world: World) -> None:
    for org_id in world.org_ids:
        issued = [b.issued_at for b in world.credly.org_badges(org_id)]
        assert issued == sorted(issued)


def test_accepted_at_is_set_exactly_for_accepted_histories(world: World) -> None:
    for badge in _badges(world):
        if badge.state in ("accepted", "replaced"):
            assert badge.accepted_at is not None
        if badge.state in ("pending", "rejected"):
            assert badge.accepted_at is None


# Variety ----------------------------------------------------------------------------------


def test_every_state_appears_in_realistic_shares(world: World) -> None:
    shares = Counter(b.state for b in _badges(world))
    total = sum(shares.values())

    assert 0.6 < shares["accepted"] / total < 0.8
    assert 0.08 < shares["pending"] / total < 0.22
    assert 0.02 < shares["rejected"] / total < 0.08
    assert 0.04 < shares["revoked"] / total < 0.12
    assert 0.04 < shares["replaced"] / total < 0.06


def test_private_expired_and_unexpiring_badges_appear(world: World) -> None:
    badges = _badges(world)
    total = len(badges)

    private = sum(1 for b in badges if not b.public)
    expired = sum(1 for b in badges if b.expires_at is not None and b.expires_at < NOW)
    unexpiring = sum(1 for b in badges if b.expires_at is None)
    assert 0.07 < private / total < 0.13
    assert 0.11 < expired / total < 0.19
    assert 0.35 < unexpiring / total < 0.45
    assert all(b.expires_at is None or b.expires_at > b.issued_at for b in badges)


def test_templates_mix_certifications_skills_shapes_and_hostile_text(world: World) -> None:
    templates = [t for t in world.credly.templates.values() if t.id in world.template_issuers]
    descriptions = " ".join(t.description for t in templates)

    assert len(templates) == 60
    assert {t.certification for t in templates} == {True, False}
    assert any(s and all(isinstance(x, str) for x in s) for s in (t.skills for t in templates))
    objects = [x for t in templates for x in t.skills if isinstance(x, dict)]
    assert objects
    assert all(set(x) == {"id", "name", "vanity_slug"} for x in objects)
    assert "<script>alert(1)</script>" in descriptions
    assert "<b>" in descriptions
    assert RTL.search(descriptions)
    assert CJK.search(descriptions)
    assert EMOJI.search(descriptions)
    assert re.search(r"[éèëçü]", descriptions)


def test_badges_name_several_issuers(world: World) -> None:
    badges = _badges(world)

    primaries = {b.issuer_org_ids[0] for b in badges}
    partners_named = {i for b in badges for i in b.issuer_org_ids} & set(world.partner_org_ids)
    assert len(primaries) >= 4
    assert len(partners_named) >= 2
    assert all(b.org_id in b.issuer_org_ids for b in badges)


def test_people_cover_every_identity_variety(world: World) -> None:
    people = world.people
    total = len(people)
    relations = Counter(p.email_relation for p in people)
    members = [p for p in people if p.directory_user_id is not None]
    users = [_user(world, p) for p in members]

    assert 0.05 < relations[EmailRelation.NONE] / total < 0.11
    assert 0.07 < relations[EmailRelation.PROXY_ALIAS] / total < 0.13
    assert relations[EmailRelation.UPN] > 0.03 * total
    assert relations[EmailRelation.OTHER_MAIL] > 0.005 * total
    assert 0.03 < sum(not p.enabled for p in members) / len(members) < 0.07
    assert 0.03 < sum(not p.licensed for p in members) / len(members) < 0.07
    assert 0.1 < sum(u.mail != u.user_principal_name for u in users) / len(users) < 0.25
    assert any(u.mail is None for u in users)
    assert 0.07 < sum(p.mixed_case for p in people) / total < 0.13
    assert any(p.credly_email != p.credly_email.lower() for p in people)
    assert any(not p.first_name.isascii() or not p.last_name.isascii() for p in people)


def test_aliases_live_only_in_proxy_addresses_behind_an_smtp_primary(world: World) -> None:
    aliased = [p for p in world.people if p.email_relation is EmailRelation.PROXY_ALIAS]

    assert aliased
    for person in aliased:
        user = _user(world, person)
        email = person.credly_email.lower()
        assert user.proxy_addresses[0].startswith("SMTP:")
        assert email in _proxy_aliases(user)
        assert user.mail is not None
        assert email not in (user.mail.lower(), user.user_principal_name.lower())


def test_some_badge_holders_have_no_credly_account(world: World) -> None:
    accountless = [b for b in _badges(world) if b.user_id is None]

    assert accountless
    assert {b.state for b in accountless} <= {"pending", "revoked"}
    assert any(b.state == "pending" for b in accountless)


def test_some_credly_accounts_use_another_address(world: World) -> None:
    differing = [
        b
        for b in _badges(world)
        if b.user_id is not None
        and world.credly.users[b.user_id].email != b.recipient_email.lower()
    ]

    assert differing


def test_a_persons_badges_spread_over_several_pages(world: World) -> None:
    pages: dict[str, set[tuple[str, int]]] = {}
    for org_id in world.org_ids:
        for position, badge in enumerate(world.credly.org_badges(org_id)):
            pages.setdefault(badge.recipient_email, set()).add((org_id, position // PAGE_SIZE))
    multi = [p for p in world.people if len(p.badge_ids) >= 3]

    assert multi
    spread = [p for p in multi if len(pages[p.credly_email]) >= 3]
    assert len(spread) > 0.9 * len(multi)


# Consistency between the stores -----------------------------------------------------------


def test_people_resolve_in_the_directory_as_their_record_says(world: World) -> None:
    everywhere = _all_directory_addresses(world)
    for person in world.people:
        if person.directory_user_id is None:
            assert person.email_relation is EmailRelation.NONE
            assert person.credly_email.lower() not in everywhere
            continue
        user = _user(world, person)
        spelled = _directory_value(user, person.email_relation, person.credly_email)
        assert spelled is not None, person
        assert (spelled != person.credly_email) == person.mixed_case
        assert user.account_enabled == person.enabled
        assert user.has_mailbox == person.licensed


def test_only_mail_relations_match_the_mail(world: World) -> None:
    for person in world.people:
        if person.directory_user_id is None or person.email_relation is EmailRelation.MAIL:
            continue
        user = _user(world, person)
        assert user.mail is None or user.mail.lower() != person.credly_email.lower()


def test_badges_carry_their_persons_email_and_account(world: World) -> None:
    by_id = {b.id: b for b in _badges(world)}
    for person in world.people:
        for badge_id in person.badge_ids:
            badge = by_id[badge_id]
            assert badge.recipient_email == person.credly_email
            assert badge.user_id == person.credly_user_id
            assert badge.issued_to_first_name == person.first_name
    assert all(b.user_id is None or b.user_id in world.credly.users for b in by_id.values())


def test_replacements_link_both_ways(world: World) -> None:
    by_id = {b.id: b for b in _badges(world)}
    replaced = [b for b in by_id.values() if b.state == "replaced"]

    assert replaced
    for old in replaced:
        assert old.replacement_badge_id is not None
        new = by_id[old.replacement_badge_id]
        assert new.replaces_badge_id == old.id
        assert new.template_id == old.template_id
        assert new.recipient_email == old.recipient_email
        assert new.issued_at >= old.issued_at
        assert old.state_updated_at == new.issued_at
        assert new.state != "replaced"
    for badge in by_id.values():
        if badge.replaces_badge_id is not None:
            assert by_id[badge.replaces_badge_id].state == "replaced"
        if badge.state != "replaced":
            assert badge.replacement_badge_id is None


# Mutations --------------------------------------------------------------------------------


def _events_of(world: World, mutation: Mutation) -> list[tuple[str, str | None, datetime]]:
    return [
        (e.event_type, e.badge_id, e.occurred_at)
        for e in (world.credly.events[i] for i in mutation.event_ids)
    ]


def _badge(world: World, badge_id: str) -> IssuedBadge:
    badge = world.find_badge(badge_id)
    assert badge is not None
    return badge


def test_accept_pending_accepts_and_records_a_state_event(small_world: World) -> None:
    at = NOW + timedelta(hours=1)

    mutation = Mutator(small_world, seed=1).accept_pending(at)

    badge = _badge(small_world, mutation.badge_ids[0])
    assert badge.state == "accepted"
    assert badge.accepted_at == badge.state_updated_at == badge.updated_at == at
    assert _events_of(small_world, mutation) == [("badge.state.changed", badge.id, at)]


def test_revoke_revokes_with_a_reason(small_world: World) -> None:
    mutation = Mutator(small_world, seed=1).revoke()

    badge = _badge(small_world, mutation.badge_ids[0])
    assert badge.state == "revoked"
    assert badge.revocation_reason
    assert badge.updated_at == badge.state_updated_at == mutation.at
    assert _events_of(small_world, mutation) == [("badge.state.changed", badge.id, mutation.at)]


def test_privacy_changes_flip_public_and_record_privacy_events(small_world: World) -> None:
    mutator = Mutator(small_world, seed=1)

    hidden = mutator.make_private()
    shown = mutator.make_public()

    assert _badge(small_world, hidden.badge_ids[0]).public is False
    assert _badge(small_world, shown.badge_ids[0]).public is True
    assert _badge(small_world, hidden.badge_ids[0]).updated_at == hidden.at
    assert _badge(small_world, shown.badge_ids[0]).updated_at == shown.at
    assert _events_of(small_world, hidden)[0][0] == "badge.privacy.changed"
    assert _events_of(small_world, shown)[0][0] == "badge.privacy.changed"


def test_replace_issues_a_linked_replacement(small_world: World) -> None:
    before = small_world.badge_count

    mutation = Mutator(small_world, seed=1).replace()

    old, new = (_badge(small_world, i) for i in mutation.badge_ids)
    person = small_world.people[mutation.person_index]
    assert small_world.badge_count == before + 1
    assert (old.state, old.replacement_badge_id, new.replaces_badge_id) == (
        "replaced",
        new.id,
        old.id,
    )
    assert new.template_id == old.template_id
    assert new.recipient_email == person.credly_email
    assert new.issued_at == old.updated_at == mutation.at
    assert person.badge_ids[-1] == new.id
    assert small_world.credly.org_badges(new.org_id)[-1] is new
    assert [e[0] for e in _events_of(small_world, mutation)] == [
        "badge.created",
        "badge.state.changed",
    ]


def test_add_badge_issues_to_the_given_person(small_world: World) -> None:
    person = next(p for p in small_world.people if not p.badge_ids)

    mutation = Mutator(small_world, seed=1).add_badge(person)

    badge = _badge(small_world, mutation.badge_ids[0])
    assert person.badge_ids == [badge.id]
    assert badge.recipient_email == person.credly_email
    assert badge.state == "pending"
    assert badge.user_id is None
    assert _events_of(small_world, mutation) == [("badge.created", badge.id, mutation.at)]


def test_add_badge_refuses_impossible_states(small_world: World) -> None:
    accountless = next(p for p in small_world.people if p.credly_user_id is None)
    mutator = Mutator(small_world, seed=1)

    with pytest.raises(ValueError, match="pending or accepted"):
        mutator.add_badge(state="revoked")
    with pytest.raises(ValueError, match="Credly account"):
        mutator.add_badge(accountless, state="accepted")


def test_expire_moves_expiry_into_the_past_without_an_event(small_world: World) -> None:
    mutation = Mutator(small_world, seed=1).expire()

    badge = _badge(small_world, mutation.badge_ids[0])
    assert badge.expires_at is not None
    assert badge.expires_at < mutation.at
    assert badge.updated_at == mutation.at
    assert mutation.event_ids == ()


def test_delete_badge_removes_it_and_records_a_deletion(small_world: World) -> None:
    mutation = Mutator(small_world, seed=1).delete_badge()

    badge_id = mutation.badge_ids[0]
    assert small_world.find_badge(badge_id) is None
    assert badge_id not in small_world.people[mutation.person_index].badge_ids
    assert _events_of(small_world, mutation) == [("badge.deleted", badge_id, mutation.at)]


def test_disable_user_disables_in_the_directory_and_the_person(small_world: World) -> None:
    seq = small_world.directory.seq

    mutation = Mutator(small_world, seed=1).disable_user()

    person = small_world.people[mutation.person_index]
    assert (_user(small_world, person).account_enabled, person.enabled) == (False, False)
    changed = small_world.directory.changes_between(seq, small_world.directory.seq)
    assert [c.user_id for c in changed] == [mutation.user_id]


def test_enable_user_enables_a_disabled_user(small_world: World) -> None:
    mutation = Mutator(small_world, seed=1).enable_user()

    person = small_world.people[mutation.person_index]
    assert (_user(small_world, person).account_enabled, person.enabled) == (True, True)


def test_unlicense_user_removes_the_mailbox(small_world: World) -> None:
    mutation = Mutator(small_world, seed=1).unlicense_user()

    person = small_world.people[mutation.person_index]
    user = _user(small_world, person)
    assert (user.has_mailbox, user.assigned_licenses, person.licensed) == (False, [], False)


def test_remove_user_leaves_the_badges_without_a_directory_match(small_world: World) -> None:
    seq = small_world.directory.seq

    mutation = Mutator(small_world, seed=1).remove_user()

    person = small_world.people[mutation.person_index]
    assert mutation.user_id is not None
    assert small_world.directory.get(mutation.user_id) is None
    assert (person.directory_user_id, person.email_relation) == (None, EmailRelation.NONE)
    [change] = small_world.directory.changes_between(seq, small_world.directory.seq)
    assert (change.user_id, change.user) == (mutation.user_id, None)


def test_add_alias_moves_the_credly_email_to_a_new_proxy_alias(small_world: World) -> None:
    mutation = Mutator(small_world, seed=1).add_alias()

    person = small_world.people[mutation.person_index]
    user = _user(small_world, person)
    alias = mutation.detail
    assert f"smtp:{alias}" in user.proxy_addresses
    assert user.proxy_addresses[0].startswith("SMTP:")
    assert (person.credly_email, person.email_relation) == (alias, EmailRelation.PROXY_ALIAS)
    for badge_id in mutation.badge_ids:
        badge = _badge(small_world, badge_id)
        assert (badge.recipient_email, badge.updated_at) == (alias, mutation.at)
    assert set(mutation.badge_ids) == set(person.badge_ids)


@pytest.mark.parametrize(
    "method",
    [
        "accept_pending",
        "revoke",
        "make_private",
        "make_public",
        "replace",
        "add_badge",
        "expire",
        "delete_badge",
        "add_alias",
    ],
)
def test_badge_mutations_bump_the_credly_store_version(small_world: World, method: str) -> None:
    version = small_world.credly.version

    getattr(Mutator(small_world, seed=1), method)()

    assert small_world.credly.version > version


def test_default_clock_advances_and_never_moves_back(small_world: World) -> None:
    mutator = Mutator(small_world, seed=1)

    first = mutator.make_private()
    second = mutator.make_private()
    late = mutator.revoke(NOW + timedelta(days=2))
    early = mutator.revoke(NOW + timedelta(days=1))
    after = mutator.make_private()

    assert NOW < first.at < second.at
    assert early.at < late.at
    assert small_world.clock > late.at
    assert after.at == NOW + timedelta(days=2, seconds=1)


def test_no_eligible_target_raises() -> None:
    world = build_world(WorldSpec(seed=2, badges=50))
    for badge in _badges(world):
        badge.state = "accepted"

    with pytest.raises(NoEligibleTargetError):
        Mutator(world, seed=1).accept_pending()


def test_random_changes_apply_n_mutations_of_many_kinds(small_world: World) -> None:
    mutations = Mutator(small_world, seed=4).random_changes(150)

    assert len(mutations) == 150
    assert len({m.kind for m in mutations}) >= 10
    assert all(m.at > NOW for m in mutations)
    badge_kinds = {MutationKind.ACCEPT, MutationKind.REVOKE, MutationKind.ADD_BADGE}
    assert all(m.event_ids for m in mutations if m.kind in badge_kinds)


def test_mutations_are_deterministic() -> None:
    spec = WorldSpec(seed=9, badges=800)
    first, second = build_world(spec), build_world(spec)

    one = Mutator(first, seed=3).random_changes(120)
    two = Mutator(second, seed=3).random_changes(120)

    assert one == two
    assert _snapshot(first) == _snapshot(second)


def test_different_mutator_seeds_pick_different_targets() -> None:
    spec = WorldSpec(seed=9, badges=800)

    one = Mutator(build_world(spec), seed=3).random_changes(30)
    two = Mutator(build_world(spec), seed=4).random_changes(30)

    assert one != two
