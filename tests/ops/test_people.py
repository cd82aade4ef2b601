"""The per-person diagnosis against a crawled world: identity, each badge's decision, last write."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from credly_connector.__main__ import main
from credly_connector.ops.people import diagnose_person
from credly_connector.rules.reasons import REASON_FIXES
from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from tests.ops.conftest import (
    PEOPLE_TWIN_UPN,
    PeopleBound,
    PeopleWorld,
    people_badge_reason,
    people_badges_of,
    people_body,
    people_eligible,
    people_eligible_emails,
)
from tests.pipeline.conftest import Pipeline

BADGE_REASONS = ("private", "not_accepted", "revoked", "replaced", "expired")
IDENTITY_REASONS = ("unmatched_email", "ambiguous_email", "inactive_user", "unlicensed_user")
NO_IO_ENV = {
    "CREDLY_ORGANIZATION_ID": "2f1d7a4e-8c1b-4c39-9f2e-5b9a7e6d4c21",
    "CREDLY_AUTH_TOKEN": "t",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}


def _item_badge_ids(pipeline: Pipeline, user_id: str) -> set[str]:
    """Badge ids on the user's item in the Graph stand-in (from each entry's web link)."""
    item = pipeline.stored().get(user_id.replace("-", ""))
    if item is None:
        return set()
    entries = [*item["certifications"], *item["awards"]]
    return {str(entry["webUrl"]).rsplit("/", 1)[1] for entry in entries}


def test_an_included_person_shows_user_badges_and_the_last_write(
    people_shared_world: PeopleWorld,
) -> None:
    world = people_shared_world
    email = world.cases["included"]
    person = world.person(email)

    body = people_body(diagnose_person(world.pipeline.ctx, email.upper()))

    resolution = body["resolution"]
    assert body["email"] == email
    assert resolution["status"] == "matched"
    assert resolution["attribute"] in {"mail", "userPrincipalName"}
    assert resolution["user"]["id"] == person.directory_user_id
    assert (resolution["user"]["enabled"], resolution["user"]["licensed"]) == (True, True)
    expected = {
        b.id for b in people_badges_of(world.pipeline, email) if people_eligible(b, world.now)
    }
    included = {b["id"] for b in body["badges"] if b["included"]}
    assert included == expected
    assert included == _item_badge_ids(world.pipeline, str(person.directory_user_id))
    assert set(body["lastWrite"]["badgeIds"]) == included
    assert body["lastWrite"]["origin"]
    assert all(b["onProfile"] == b["included"] for b in body["badges"])
    assert not any(b["willChangeAtNextCrawl"] for b in body["badges"])


@pytest.mark.parametrize("reason", BADGE_REASONS)
def test_each_badge_reason_is_explained_with_its_fix(
    people_shared_world: PeopleWorld, reason: str
) -> None:
    world = people_shared_world
    assert reason in world.cases, f"the world should hold a {reason} badge"
    email = world.cases[reason]

    body = people_body(diagnose_person(world.pipeline.ctx, email))

    expected = {
        b.id
        for b in people_badges_of(world.pipeline, email)
        if people_badge_reason(b, world.now) == reason
    }
    shown = {b["id"]: b for b in body["badges"]}
    assert expected
    for badge_id in expected:
        assert shown[badge_id]["status"] == reason
        assert shown[badge_id]["included"] is False
        assert shown[badge_id]["fix"] == REASON_FIXES[reason]
        assert shown[badge_id]["onProfile"] is False
    assert body["resolution"]["reason"] is None


@pytest.mark.parametrize("reason", IDENTITY_REASONS)
def test_each_identity_reason_is_explained_and_keeps_every_badge_off(
    people_shared_world: PeopleWorld, reason: str
) -> None:
    world = people_shared_world
    assert reason in world.cases, f"the world should hold a {reason} recipient"
    email = world.cases[reason]

    body = people_body(diagnose_person(world.pipeline.ctx, email))

    resolution = body["resolution"]
    assert resolution["reason"] == reason
    assert resolution["fix"] == REASON_FIXES[reason]
    assert resolution["canHoldBadges"] is False
    assert body["badges"]
    assert not any(b["included"] for b in body["badges"])
    for badge in body["badges"]:
        assert badge["reason"] in {reason, *BADGE_REASONS}
    assert any(reason in note for note in body["notes"])
    if reason in {"inactive_user", "unlicensed_user"}:
        assert resolution["status"] == "matched"
        assert resolution["user"]["enabled"] is (reason != "inactive_user")
        assert resolution["user"]["licensed"] is (reason != "unlicensed_user")


def test_an_ambiguous_email_names_every_candidate(people_shared_world: PeopleWorld) -> None:
    world = people_shared_world
    email = world.cases["ambiguous_email"]
    person = world.person(email)

    resolution = people_body(diagnose_person(world.pipeline.ctx, email))["resolution"]

    assert resolution["status"] == "ambiguous"
    assert resolution["user"] is None
    ids = {c["id"] for c in resolution["candidates"]}
    assert ids == {person.directory_user_id, "00000000-0000-4000-8000-00000000f00d"}
    assert PEOPLE_TWIN_UPN in {c["userPrincipalName"] for c in resolution["candidates"]}


def test_an_alias_resolves_by_proxy_address_and_lists_the_other_addresses(
    people_shared_world: PeopleWorld,
) -> None:
    world = people_shared_world
    email = world.cases["alias"]
    person = world.person(email)
    user = world.pipeline.world.directory.get(str(person.directory_user_id))
    assert user is not None

    body = people_body(diagnose_person(world.pipeline.ctx, email))

    assert body["resolution"]["attribute"] == "proxyAddresses"
    assert any(b["included"] for b in body["badges"])
    addresses = {user.user_principal_name.lower(), *(str(user.mail or "").lower(),)}
    addresses |= {p[5:].lower() for p in user.proxy_addresses if p.lower().startswith("smtp:")}
    assert {o["email"] for o in body["otherAddresses"]} == addresses - {email, ""}


def test_a_decision_that_changed_since_the_crawl_says_it_will_change(
    people_shared_world: PeopleWorld,
) -> None:
    world = people_shared_world
    pipeline = world.pipeline
    email, badge = next(
        (email, badge)
        for email in people_eligible_emails(pipeline, world.now)
        for badge in people_body(diagnose_person(pipeline.ctx, email)).get("badges", [])
        if badge["included"] and badge["expiresAt"]
    )
    later = datetime.fromisoformat(badge["expiresAt"]) + timedelta(days=1)
    ctx = build_context(pipeline.settings, clock=lambda: later)

    body = people_body(diagnose_person(ctx, email))

    shown = next(b for b in body["badges"] if b["id"] == badge["id"])
    assert shown["status"] == "expired"
    assert shown["lastDecision"]["included"] is True
    assert shown["willChangeAtNextCrawl"] is True
    assert shown["onProfile"] is True
    assert any("differ from those of the last crawl" in note for note in body["notes"])


def test_an_unknown_email_is_404_with_advice(people_shared_world: PeopleWorld) -> None:
    answer = diagnose_person(people_shared_world.pipeline.ctx, "nobody.here@example.org")

    assert answer.status == 404
    message = people_body(answer)["error"]["message"]
    assert "No badge is known for nobody.here@example.org" in message
    assert "spelling" in message
    assert "override" in message


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("../x", "is not an email address"),
        ("..%2F..%2Fetc", "is not an email address"),
        ("a/../../b", "is not an email address"),
        ("adele", "is not an email address"),
        ("adele@contoso", "is not an email address"),
        ("adele@@contoso.com", "is not an email address"),
        ("ad ele@contoso.com", "is not an email address"),
        ("", "An email address is required"),
        ("a" * 250 + "@contoso.com", "at most 254"),
    ],
)
def test_a_malformed_email_is_400_before_any_storage_is_read(raw: str, says: str) -> None:
    # The context points at storage that does not exist: any read would fail the test.
    ctx = build_context(load_settings({**NO_IO_ENV, "STORAGE_PREFIX": "unused"}))

    answer = diagnose_person(ctx, raw)

    assert answer.status == 400
    assert says in people_body(answer)["error"]["message"]


def test_the_route_answers_with_the_diagnosis_as_json(people_bound: PeopleBound) -> None:
    pipeline = people_bound.pipeline
    email = people_eligible_emails(pipeline, datetime.now(UTC))[0]

    ok = people_bound.call(
        "ops_people_diagnose", "GET", f"/api/ops/people/{email}", route={"email": email}
    )
    bad = people_bound.call(
        "ops_people_diagnose", "GET", "/api/ops/people/..%2Fx", route={"email": "../x"}
    )

    assert ok.status_code == 200
    assert ok.mimetype == "application/json"
    assert json.loads(ok.get_body())["email"] == email
    assert bad.status_code == 400
    assert "not an email address" in json.loads(bad.get_body())["error"]["message"]


def test_the_command_prints_a_readable_diagnosis(
    people_shared_world: PeopleWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = people_shared_world
    for name, value in world.pipeline.stack.env.items():
        monkeypatch.setenv(name, value)
    email = world.cases["private"]

    code = main(["diagnose", email])

    out = capsys.readouterr().out
    assert code == 0
    assert f"Email: {email}" in out
    assert "private" in out
    assert main(["diagnose", "nobody.here@example.org"]) == 1
    refused = capsys.readouterr().err
    assert refused.startswith("error: No badge is known")
    assert refused.count("\n") == 1
    assert main(["diagnose", "nobody.here@example.org", "--json"]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["status"] == 404
