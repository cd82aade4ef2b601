"""OAuth client credentials against the stand-in's token endpoint: caching, renewal, refusal."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

import pytest

from credly_connector.credly import DEFAULT_SCOPE, BadgeQuery, CredlyClient, OAuthAuth
from credly_connector.errors import AuthenticationError, RetryableError
from devstack.credly.server import CredlyStandIn
from devstack.standin import Fault, FaultKind
from devstack.synthetic import World
from tests.credly.conftest import Waits, org_badges, walk_pages


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def oauth(
    credly: CredlyStandIn,
    world: World,
    clock: Clock | None = None,
    *,
    client_secret: str | None = None,
    scope: str = DEFAULT_SCOPE,
) -> OAuthAuth:
    app = world.credly.orgs[world.org_ids[0]].oauth_apps[0]
    return OAuthAuth(
        app.client_id,
        client_secret or app.client_secret,
        credly.token_url,
        clock=clock or Clock(),
        scope=scope,
    )


def oauth_client(
    credly: CredlyStandIn, world: World, auth: OAuthAuth, waits: Waits
) -> CredlyClient:
    return CredlyClient(credly.api_url, world.org_ids[0], auth, retry=waits.policy())


def test_oauth_reads_badges_with_a_bearer_token_from_the_web_host(
    credly: CredlyStandIn, world: World, waits: Waits
) -> None:
    client = oauth_client(credly, world, oauth(credly, world), waits)

    page = client.badge_page(1, BadgeQuery())

    assert len(page.badges) == 50
    (token_request,) = credly.web.requests.entries()
    assert token_request.route_class == "oauth"
    (grant,) = credly.access_grants()
    assert grant.scopes == ("issued_badges", "events")


def test_the_token_request_is_the_client_credentials_grant(
    credly: CredlyStandIn, world: World
) -> None:
    auth = oauth(credly, world)
    sent: list[str] = []
    auth.session.hooks["response"].append(lambda r, *_, **__: sent.append(str(r.request.body)))

    assert auth.authorization().startswith("Bearer ")

    form = parse_qs(sent[0])
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["issued_badges events"]
    assert set(form) == {"client_id", "client_secret", "grant_type", "scope"}


def test_the_token_is_cached_until_a_minute_before_it_expires(
    credly: CredlyStandIn, world: World
) -> None:
    clock = Clock()
    auth = oauth(credly, world, clock)

    first = auth.authorization()
    clock.now += credly.token_lifetime_s - 61
    assert auth.authorization() == first
    clock.now += 1
    second = auth.authorization()

    assert second != first
    assert credly.web.requests.count() == 2


def test_a_token_revoked_mid_crawl_is_renewed_once(
    credly: CredlyStandIn, world: World, waits: Waits
) -> None:
    auth = oauth(credly, world)
    client = oauth_client(credly, world, auth, waits)

    ids: list[str] = []
    for page in walk_pages(client, BadgeQuery()):
        ids.extend(b["id"] for b in page.badges)
        if page.current_page == 2:
            credly.revoke_access_tokens()

    assert sorted(ids) == sorted(b.id for b in org_badges(world))
    assert len(ids) == len(set(ids))
    assert credly.api.requests.count(status=401) == 1
    assert credly.web.requests.count() == 2
    assert waits.seconds == []  # the renewal is not a retry


def test_a_second_401_after_renewal_is_an_authentication_error(
    credly: CredlyStandIn, world: World, waits: Waits
) -> None:
    credly.token_lifetime_s = 0  # every access token the stand-in issues is already expired
    client = oauth_client(credly, world, oauth(credly, world), waits)

    with pytest.raises(AuthenticationError) as caught:
        client.organization()

    assert "CREDLY_CLIENT_ID / CREDLY_CLIENT_SECRET" in caught.value.fix
    assert credly.api.requests.count(status=401) == 2
    assert credly.web.requests.count() == 2


def test_a_wrong_client_secret_names_the_settings_to_fix(
    credly: CredlyStandIn, world: World, waits: Waits
) -> None:
    client = oauth_client(credly, world, oauth(credly, world, client_secret="nope"), waits)

    with pytest.raises(AuthenticationError, match="invalid_client") as caught:
        client.badge_page(1, BadgeQuery())

    assert "CREDLY_CLIENT_ID / CREDLY_CLIENT_SECRET" in caught.value.fix
    assert credly.api.requests.count() == 0
    assert waits.seconds == []


def test_a_scope_the_app_lacks_is_an_authentication_error(
    credly: CredlyStandIn, world: World
) -> None:
    auth = oauth(credly, world, scope="issued_badges workforce")

    with pytest.raises(AuthenticationError, match="invalid_scope") as caught:
        auth.authorization()

    assert "issued_badges workforce" in caught.value.fix


def test_a_failing_token_endpoint_is_retried_with_the_request(
    credly: CredlyStandIn, world: World, waits: Waits
) -> None:
    credly.web.knobs.add_fault(Fault(FaultKind.STATUS, route_class="oauth", status=503))
    client = oauth_client(credly, world, oauth(credly, world), waits)

    assert client.organization()["id"] == world.org_ids[0]
    assert waits.seconds == [0.5]


def test_a_token_endpoint_that_stays_down_is_retryable(credly: CredlyStandIn, world: World) -> None:
    credly.web.knobs.add_fault(Fault(FaultKind.STATUS, route_class="oauth", status=500, times=None))

    with pytest.raises(RetryableError) as caught:
        oauth(credly, world).authorization()

    assert caught.value.status == 500


def test_credentials_never_show_in_repr(world: World) -> None:
    app = world.credly.orgs[world.org_ids[0]].oauth_apps[0]
    auth = OAuthAuth(app.client_id, app.client_secret, "http://127.0.0.1:1/oauth/token")

    assert app.client_secret not in repr(auth)
