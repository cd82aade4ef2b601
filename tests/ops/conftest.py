"""Shared fixtures of the operations tests: crawled pipelines over generated worlds."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest

from credly_connector.local.crawl import run_crawl
from credly_connector.ops.answers import Answer
from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from devstack.azurite import Azurite
from devstack.connected import connected_stack
from devstack.credly.records import IssuedBadge
from devstack.graph.directory import DirectoryUser
from devstack.synthetic import EmailRelation, Person, WorldSpec, build_world
from devstack.synthetic.accounts import exchange_licence
from tests.ops.setup_support import setup_stack  # noqa: F401
from tests.pipeline.bound import bind_to_environment
from tests.pipeline.conftest import CRAWL_TIMEOUT_S, Pipeline, make_pipeline  # noqa: F401

# -- people: per-person diagnosis, identity overrides, badge report ----------------------------

PEOPLE_TWIN_UPN = "twin.user@contoso.com"


def people_body(answer: Answer) -> dict[str, Any]:
    """An answer's JSON body (always an object for these operations)."""
    assert isinstance(answer.body, dict), answer
    return answer.body


def people_badges_of(pipeline: Pipeline, email: str) -> list[IssuedBadge]:
    """The world's badges issued to an email (ignoring case)."""
    org = pipeline.stack.organization_id
    return [
        b
        for b in pipeline.world.credly.badges[org].values()
        if b.recipient_email.strip().lower() == email
    ]


def people_eligible(badge: IssuedBadge, now: datetime) -> bool:
    """Whether a badge passes every badge rule (state, public, expiry): the oracle's reading."""
    return (
        badge.state == "accepted"
        and not badge.replacement_badge_id
        and badge.public
        and (badge.expires_at is None or badge.expires_at > now)
    )


def people_badge_reason(badge: IssuedBadge, now: datetime) -> str | None:
    """The badge rule a badge fails, independently of the connector's rules module."""
    if badge.state == "revoked":
        return "revoked"
    if badge.state == "replaced" or badge.replacement_badge_id:
        return "replaced"
    if badge.state != "accepted":
        return "not_accepted"
    if not badge.public:
        return "private"
    if badge.expires_at is not None and badge.expires_at <= now:
        return "expired"
    return None


def people_eligible_emails(pipeline: Pipeline, now: datetime) -> list[str]:
    """Emails holding a badge that passes the badge rules, in the world's order of people."""
    return [
        email
        for person in pipeline.world.people
        for email in [person.credly_email.lower()]
        if any(people_eligible(b, now) for b in people_badges_of(pipeline, email))
    ]


@dataclass
class PeopleWorld:
    """A crawled pipeline, and one email per case the diagnosis must explain."""

    pipeline: Pipeline
    cases: dict[str, str]
    now: datetime

    def person(self, email: str) -> Person:
        """The person whose Credly email this is."""
        return next(p for p in self.pipeline.world.people if p.credly_email.lower() == email)


def _people_cases(pipeline: Pipeline, twin_email: str, now: datetime) -> dict[str, str]:
    """The first email of each case, from the world's ground truth (not the connector)."""
    cases: dict[str, str] = {"ambiguous_email": twin_email}
    matched = (EmailRelation.MAIL, EmailRelation.UPN, EmailRelation.PROXY_ALIAS)
    for person in pipeline.world.people:
        email = person.credly_email.lower()
        badges = people_badges_of(pipeline, email)
        if not badges or email == twin_email:
            continue
        usable = person.email_relation in matched and person.enabled and person.licensed
        if person.email_relation is EmailRelation.NONE:
            cases.setdefault("unmatched_email", email)
        elif person.email_relation in matched and not person.enabled:
            cases.setdefault("inactive_user", email)
        elif person.email_relation in matched and not person.licensed:
            cases.setdefault("unlicensed_user", email)
        if not usable:
            continue
        if any(people_eligible(b, now) for b in badges):
            key = "alias" if person.email_relation is EmailRelation.PROXY_ALIAS else "included"
            cases.setdefault(key, email)
        for badge in badges:
            reason = people_badge_reason(badge, now)
            if reason is not None:
                cases.setdefault(reason, email)
    return cases


def _people_world(pipeline: Pipeline) -> PeopleWorld:
    """Give one member's Credly email to a second user too, then crawl in full."""
    now = datetime.now(UTC)
    twin_of = next(
        p
        for p in pipeline.world.people
        if p.email_relation is EmailRelation.MAIL
        and p.enabled
        and p.licensed
        and any(people_eligible(b, now) for b in people_badges_of(pipeline, p.credly_email.lower()))
    )
    twin_email = twin_of.credly_email.lower()
    licences, plans = exchange_licence(pipeline.world.licence_assigned_at)
    pipeline.world.directory.upsert(
        DirectoryUser(
            id="00000000-0000-4000-8000-00000000f00d",
            display_name="Twin User",
            user_principal_name=PEOPLE_TWIN_UPN,
            mail=PEOPLE_TWIN_UPN,
            proxy_addresses=[f"SMTP:{PEOPLE_TWIN_UPN}", f"smtp:{twin_email}"],
            assigned_licenses=licences,
            assigned_plans=plans,
        )
    )
    assert pipeline.crawl("full").succeeded
    return PeopleWorld(pipeline, _people_cases(pipeline, twin_email, now), now)


@pytest.fixture(scope="module")
def people_shared_world(azurite: Azurite) -> Iterator[PeopleWorld]:
    """One crawled world for the tests of a module that only read (built once per module)."""
    world = build_world(WorldSpec(seed=7, badges=400, now=datetime.now(UTC)))
    prefix = "t" + uuid.uuid4().hex[:20]
    with connected_stack(world, azurite.connection_string, prefix=prefix) as stack:
        settings = load_settings(stack.env)
        yield _people_world(Pipeline(stack, settings, build_context(settings)))


@pytest.fixture
def people_world(make_pipeline: Callable[..., Pipeline]) -> PeopleWorld:  # noqa: F811
    """A crawled world of its own, for a test that changes it."""
    return _people_world(make_pipeline(badges=240, seed=7))


@dataclass
class PeopleBound:
    """A crawled pipeline behind the bound functions, and a way to call them by name."""

    pipeline: Pipeline
    functions: dict[str, Any]

    def call(
        self,
        name: str,
        method: str,
        url: str,
        *,
        body: Any = None,
        route: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> func.HttpResponse:
        """Send one HTTP request to the function `name`."""
        data = b"" if body is None else json.dumps(body).encode()
        request = func.HttpRequest(
            method, url, body=data, route_params=route or {}, params=params or {}
        )
        response: func.HttpResponse = self.functions[name].get_user_function()(request)
        return response


@pytest.fixture
def people_bound(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
    indexed_functions: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> PeopleBound:
    """The bound functions over a crawled pipeline whose settings are the process env."""
    pipeline = make_pipeline(badges=120, seed=21)
    ctx = bind_to_environment(pipeline, monkeypatch)
    assert run_crawl(ctx, "full", workers=4, timeout_s=CRAWL_TIMEOUT_S).succeeded
    return PeopleBound(pipeline, indexed_functions)
