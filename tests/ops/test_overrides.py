"""Identity overrides: stored, used before the directory rules, and applied to profiles at once."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from credly_connector.__main__ import main
from credly_connector.directory import DirectoryUser
from credly_connector.ops.overrides import delete_override, list_overrides, set_override
from credly_connector.ops.people import diagnose_person
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.runtime import build_context
from devstack.synthetic import EmailRelation, Person
from tests.ops.conftest import (
    PeopleBound,
    PeopleWorld,
    people_badges_of,
    people_body,
    people_eligible,
    people_eligible_emails,
)
from tests.pipeline.conftest import Pipeline


def _item_badge_ids(pipeline: Pipeline, user_id: str) -> set[str] | None:
    """Badge ids on the user's item in the Graph stand-in, or None without an item."""
    item = pipeline.stored().get(user_id.replace("-", ""))
    if item is None:
        return None
    entries = [*item["certifications"], *item["awards"]]
    return {str(entry["webUrl"]).rsplit("/", 1)[1] for entry in entries}


def _usable(person: Person) -> bool:
    return (
        person.directory_user_id is not None
        and person.email_relation is EmailRelation.MAIL
        and person.enabled
        and person.licensed
    )


def _put(world: PeopleWorld, email: str, upn: str) -> dict[str, Any]:
    answer = set_override(
        world.pipeline.ctx, email, json.dumps({"userPrincipalName": upn}).encode(), actor="test"
    )
    assert answer.status in {200, 201}, answer
    return people_body(answer)


def _upn(world: PeopleWorld, person: Person) -> str:
    user = world.pipeline.world.directory.get(str(person.directory_user_id))
    assert user is not None
    return user.user_principal_name


def _personal_and_target(world: PeopleWorld) -> tuple[str, set[str], Person]:
    """An unmatched personal email with showable badges, and a usable member to map it to."""
    email = world.cases["unmatched_email"]
    showable = {
        b.id for b in people_badges_of(world.pipeline, email) if people_eligible(b, world.now)
    }
    if not showable:
        email = next(
            e
            for e in people_eligible_emails(world.pipeline, world.now)
            if world.person(e).email_relation is EmailRelation.NONE
        )
        showable = {
            b.id for b in people_badges_of(world.pipeline, email) if people_eligible(b, world.now)
        }
    target = next(
        p
        for p in world.pipeline.world.people
        if _usable(p) and p.credly_email.lower() not in world.cases.values()
    )
    return email, showable, target


def test_an_override_puts_a_personal_emails_badges_on_the_item_at_once(
    people_world: PeopleWorld,
) -> None:
    world = people_world
    email, showable, target = _personal_and_target(world)
    target_id = str(target.directory_user_id)
    before = _item_badge_ids(world.pipeline, target_id) or set()
    assert showable
    assert not showable & before

    body = _put(world, email.upper(), _upn(world, target).upper())

    assert body["previous"]["status"] == "unmatched"
    assert body["resolution"]["attribute"] == "override"
    assert body["resolution"]["user"]["id"] == target_id
    assert body["override"]["setBy"] == "test"
    assert body["recomposed"]["written"] == 1
    assert _item_badge_ids(world.pipeline, target_id) == before | showable
    diagnosis = people_body(diagnose_person(world.pipeline.ctx, email))
    assert diagnosis["resolution"]["attribute"] == "override"
    assert diagnosis["resolution"]["override"]["userPrincipalName"] == _upn(world, target)
    assert {b["id"] for b in diagnosis["badges"] if b["onProfile"]} == showable
    assert diagnosis["lastWrite"]["origin"] == f"override:{email}"
    assert not any(b["willChangeAtNextCrawl"] for b in diagnosis["badges"])
    own = people_body(diagnose_person(world.pipeline.ctx, target.credly_email))
    assert email in {o["email"] for o in own["otherAddresses"]}


def test_a_crawl_after_an_override_keeps_the_badges_without_rewriting(
    people_world: PeopleWorld,
) -> None:
    world = people_world
    email, showable, target = _personal_and_target(world)
    _put(world, email, _upn(world, target))
    writes = world.pipeline.writes()

    assert world.pipeline.crawl("full").succeeded

    assert showable <= (_item_badge_ids(world.pipeline, str(target.directory_user_id)) or set())
    assert world.pipeline.writes() == writes


def test_deleting_an_override_takes_the_badges_off_the_item_at_once(
    people_world: PeopleWorld,
) -> None:
    world = people_world
    email, showable, target = _personal_and_target(world)
    target_id = str(target.directory_user_id)
    before = _item_badge_ids(world.pipeline, target_id)
    _put(world, email, _upn(world, target))

    answer = delete_override(world.pipeline.ctx, email)

    assert answer.status == 200
    body = people_body(answer)
    assert body["deleted"]["email"] == email
    assert body["resolution"]["status"] == "unmatched"
    assert target_id in body["recomposed"]["userIds"]
    after = _item_badge_ids(world.pipeline, target_id)
    assert after == before
    assert not showable & (after or set())
    again = delete_override(world.pipeline.ctx, email)
    assert again.status == 404
    assert "nothing was changed" in people_body(again)["error"]["message"]


def test_an_override_moves_a_directory_address_from_its_owner_to_another_user(
    people_world: PeopleWorld,
) -> None:
    world = people_world
    email = world.cases["included"]
    owner = world.person(email)
    owner_id = str(owner.directory_user_id)
    moved = {b.id for b in people_badges_of(world.pipeline, email) if people_eligible(b, world.now)}
    target = next(
        p
        for p in world.pipeline.world.people
        if _usable(p) and p.directory_user_id != owner_id and p.credly_email.lower() != email
    )
    target_id = str(target.directory_user_id)
    assert moved <= (_item_badge_ids(world.pipeline, owner_id) or set())

    body = _put(world, email, _upn(world, target))

    assert body["previous"]["user"]["id"] == owner_id
    assert any("now go to the override's user" in w for w in body["warnings"])
    assert {owner_id, target_id} <= set(body["recomposed"]["userIds"])
    assert not moved & (_item_badge_ids(world.pipeline, owner_id) or set())
    assert moved <= (_item_badge_ids(world.pipeline, target_id) or set())


def test_the_list_shows_each_override_with_who_set_it_and_whom_it_resolves_to(
    people_world: PeopleWorld,
) -> None:
    world = people_world
    email, _, target = _personal_and_target(world)
    _put(world, email, _upn(world, target))

    listed = people_body(list_overrides(world.pipeline.ctx))["value"]

    assert [(o["email"], o["setBy"], o["userId"]) for o in listed] == [
        (email, "test", target.directory_user_id)
    ]
    assert listed[0]["userPrincipalName"] == _upn(world, target)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b"", '"userPrincipalName" is required'),
        (b'{"userPrincipalName": 7}', '"userPrincipalName" is required'),
        (b'{"userPrincipalName": "  "}', '"userPrincipalName" is required'),
        (b'{"userPrincipalName": "a@b.com", "extra": 1}', "Unknown field(s): extra"),
    ],
)
def test_a_malformed_body_is_400_and_stores_nothing(
    people_shared_world: PeopleWorld, body: bytes, says: str
) -> None:
    ctx = people_shared_world.pipeline.ctx
    email = people_shared_world.cases["unmatched_email"]

    answer = set_override(ctx, email, body, actor="test")

    assert answer.status == 400
    assert says in people_body(answer)["error"]["message"]
    assert ctx.identity_overrides.get(email) is None


def test_an_unknown_upn_is_422_and_names_the_upn_of_an_address(
    people_shared_world: PeopleWorld,
) -> None:
    world = people_shared_world
    ctx = world.pipeline.ctx
    email = world.cases["unmatched_email"]
    alias = world.cases["alias"]
    holder = world.pipeline.world.directory.get(str(world.person(alias).directory_user_id))
    assert holder is not None

    unknown = set_override(ctx, email, b'{"userPrincipalName": "nobody@contoso.com"}', actor="t")
    by_upn_of_alias = json.dumps({"userPrincipalName": alias}).encode()
    by_alias = set_override(ctx, email, by_upn_of_alias, actor="t")

    assert unknown.status == 422
    assert "No user with userPrincipalName nobody@contoso.com" in str(unknown.body)
    assert by_alias.status == 422
    assert "use that UPN" in str(by_alias.body)
    assert holder.user_principal_name in str(by_alias.body)
    assert ctx.identity_overrides.get(email) is None


@pytest.mark.parametrize("raw", ["../x", "not-an-email", "a" * 300 + "@contoso.com", ""])
def test_a_bad_email_is_400(people_shared_world: PeopleWorld, raw: str) -> None:
    ctx = people_shared_world.pipeline.ctx

    put = set_override(ctx, raw, b'{"userPrincipalName": "x@contoso.com"}', actor="t")
    delete = delete_override(ctx, raw)

    assert (put.status, delete.status) == (400, 400)


def test_without_a_directory_snapshot_the_override_is_refused(
    people_shared_world: PeopleWorld, storage_name: str
) -> None:
    pipeline = people_shared_world.pipeline
    settings = pipeline.settings
    storage = replace(settings.storage, prefix=storage_name)
    empty = build_context(replace(settings, storage=storage))
    empty.tables.ensure()
    body = b'{"userPrincipalName": "a@contoso.com"}'

    answer = set_override(empty, "x@gmail.com", body, actor="t")

    assert answer.status == 409
    assert "run a crawl first" in people_body(answer)["error"]["message"]


def test_the_index_gives_an_overridden_email_to_its_target_only() -> None:
    adele = DirectoryUser("u-adele", "adele@contoso.com", "adele@contoso.com")
    alex = DirectoryUser("u-alex", "alex@contoso.com", "alex@contoso.com")
    index = DirectoryIndex(
        [adele, alex],
        overrides={"adele@contoso.com": "alex@contoso.com", "a.personal@gmail.com": "u-alex"},
    )

    assert index.emails_of("u-adele") == frozenset()
    assert index.emails_of("u-alex") == {
        "alex@contoso.com",
        "adele@contoso.com",
        "a.personal@gmail.com",
    }


def test_the_routes_and_the_command_set_list_and_delete(
    people_bound: PeopleBound,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pipeline = people_bound.pipeline
    target = next(p for p in pipeline.world.people if _usable(p))
    user = pipeline.world.directory.get(str(target.directory_user_id))
    assert user is not None
    email = "someone.personal@gmail.com"
    url = f"/api/ops/identity-overrides/{email}"
    route = {"email": email}

    bad = people_bound.call(
        "ops_identity_overrides_put", "PUT", url, route=route, body={"upn": "x"}
    )
    put = people_bound.call(
        "ops_identity_overrides_put",
        "PUT",
        url,
        route=route,
        body={"userPrincipalName": user.user_principal_name},
    )
    listed = people_bound.call("ops_identity_overrides_list", "GET", "/api/ops/identity-overrides")
    deleted = people_bound.call("ops_identity_overrides_delete", "DELETE", url, route=route)

    assert bad.status_code == 400
    assert put.status_code == 201
    assert json.loads(put.get_body())["override"]["setBy"] == "http"
    assert [o["email"] for o in json.loads(listed.get_body())["value"]] == [email]
    assert deleted.status_code == 200
    upn = user.user_principal_name
    # The command prints text for people by default, the route's JSON with --json.
    assert main(["override", "set", email, upn]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == f"override {email} -> {upn} (set by cli{shown[0].split('cli', 1)[1]}"
    assert shown[2].split() == ["now", upn, "(by", "override)"]
    assert "{" not in "".join(shown)
    assert main(["override", "set", email, upn, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["override"]["setBy"].startswith("cli")
    assert main(["override", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["email", "userPrincipalName"]
    assert table[1].split()[:2] == [email, upn]
    assert main(["override", "list", "--json"]) == 0
    assert [o["email"] for o in json.loads(capsys.readouterr().out)["value"]] == [email]
    assert main(["override", "delete", email]) == 0
    assert capsys.readouterr().out.startswith(f"override {email} -> {upn} removed\n")
    # A refusal is one line naming the problem, without HTTP status fields.
    assert main(["override", "delete", email]) == 1
    refused = capsys.readouterr().err
    assert refused == f"error: No identity override exists for {email}; nothing was changed.\n"
    assert main(["override", "delete", email, "--json"]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["status"] == 404
    assert main(["override", "list"]) == 0
    assert capsys.readouterr().out == "no identity override\n"
