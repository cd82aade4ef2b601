"""The Credly client against the loopback stand-in: reads, error families, retries, same host."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from credly_connector.credly import BadgeQuery, CredlyClient, CredlyNotFoundError, TokenAuth
from credly_connector.errors import (
    AuthenticationError,
    ConfigurationError,
    RequestError,
    RetryableError,
    ThrottledError,
)
from devstack.credly.filters import IGNORE, REJECT, UPDATED_AT_MIN_MODE
from devstack.credly.server import CredlyStandIn
from devstack.standin import Fault, FaultKind, Knobs, RateLimit
from devstack.synthetic import World
from tests.credly.conftest import ATTEMPTS, Requests, Waits, org_badges, org_token

# -- reads ---------------------------------------------------------------------------------


def test_token_auth_reads_the_organisation(client: CredlyClient, world: World) -> None:
    org = client.organization()

    assert org["id"] == world.org_ids[0]
    assert org["name"] == world.credly.orgs[world.org_ids[0]].name


def test_token_is_sent_as_basic_user_name_with_an_empty_password() -> None:
    assert TokenAuth("abc").authorization() == "Basic YWJjOg=="


def test_one_badge_is_read_raw_with_every_field(client: CredlyClient, world: World) -> None:
    wanted = org_badges(world)[5]

    badge = client.badge(wanted.id)

    assert badge["id"] == wanted.id
    assert badge["recipient_email"] == wanted.recipient_email
    assert "badge_template" in badge  # nested objects are passed on untouched


def test_badge_page_reports_the_server_s_position(client: CredlyClient, world: World) -> None:
    total = len(org_badges(world))

    page = client.badge_page(2, BadgeQuery())

    assert (page.number, page.current_page, page.total_count) == (2, 2, total)
    assert page.total_pages == -(-total // 50)
    assert len(page.badges) == 50
    assert page.next_page_url is not None
    assert "page=3" in page.next_page_url


def test_authorization_tokens_lists_the_organisation_s_tokens(
    client: CredlyClient, world: World
) -> None:
    tokens = client.authorization_tokens()

    expected = {t.id for t in world.credly.orgs[world.org_ids[0]].tokens}
    assert {t["id"] for t in tokens} == expected
    assert all("expires_at" in t for t in tokens)


# -- refused requests ------------------------------------------------------------------------


def test_wrong_token_is_an_authentication_error_with_a_fix(
    credly: CredlyStandIn, world: World, waits: Waits
) -> None:
    client = CredlyClient(
        credly.api_url, world.org_ids[0], TokenAuth("not-a-token"), retry=waits.policy()
    )

    with pytest.raises(AuthenticationError) as caught:
        client.organization()

    assert "invalid authorization token" in str(caught.value)  # Credly's data.message
    assert "CREDLY_AUTH_TOKEN" in caught.value.fix
    assert "sandbox" in caught.value.fix
    assert credly.api_url in caught.value.fix
    assert credly.api.requests.count(status=401) == 1  # a token is not retried
    assert waits.seconds == []


def test_token_of_another_organisation_is_refused(
    credly: CredlyStandIn, world: World, waits: Waits
) -> None:
    client = CredlyClient(
        credly.api_url, world.org_ids[1], TokenAuth(org_token(world, 0)), retry=waits.policy()
    )

    with pytest.raises(AuthenticationError, match="403"):
        client.badge_page(1, BadgeQuery())


def test_wrong_organisation_id_is_not_found(
    credly: CredlyStandIn, world: World, waits: Waits
) -> None:
    client = CredlyClient(
        credly.api_url, "no-such-org", TokenAuth(org_token(world)), retry=waits.policy()
    )

    with pytest.raises(CredlyNotFoundError, match="organization no-such-org not found"):
        client.organization()
    assert waits.seconds == []


def test_updated_at_min_in_each_stand_in_mode(
    client: CredlyClient, credly: CredlyStandIn, world: World
) -> None:
    since = max(b.updated_at for b in org_badges(world))
    query = BadgeQuery(updated_since=since)
    everything = client.badge_page(1, BadgeQuery()).total_count

    applied = client.badge_page(1, query).total_count
    credly.api.knobs.set_mode(UPDATED_AT_MIN_MODE, IGNORE)
    ignored = client.badge_page(1, query).total_count
    credly.api.knobs.set_mode(UPDATED_AT_MIN_MODE, REJECT)
    with pytest.raises(RequestError) as caught:
        client.badge_page(1, query)
    credly.api.knobs.set_mode(UPDATED_AT_MIN_MODE, None)

    assert 0 < applied < everything
    assert ignored == everything
    assert caught.value.status == 400
    assert "updated_at_min" in str(caught.value)
    # Unfiltered reads are never refused, whatever the mode.
    credly.api.knobs.set_mode(UPDATED_AT_MIN_MODE, REJECT)
    assert client.badge_page(1, BadgeQuery()).total_count == everything


def test_unknown_badge_is_not_found(client: CredlyClient) -> None:
    with pytest.raises(CredlyNotFoundError):
        client.badge("00000000-0000-0000-0000-000000000000")


def test_a_refused_query_is_a_request_error_and_not_retried(
    client: CredlyClient, credly: CredlyStandIn, waits: Waits
) -> None:
    with pytest.raises(RequestError) as caught:
        client.badge_page(1, BadgeQuery(filters=(("colour", "blue"),)))

    assert caught.value.status == 422
    assert "unknown filter key" in str(caught.value)
    assert credly.api.requests.count() == 1
    assert waits.seconds == []


def test_page_numbers_beyond_the_cap_are_never_requested(
    credly: CredlyStandIn, world: World
) -> None:
    client = CredlyClient(credly.api_url, world.org_ids[0], TokenAuth("t"), max_pages=3)

    with pytest.raises(RequestError, match="loop guard"):
        client.badge_page(4, BadgeQuery())
    assert credly.api.requests.count() == 0


def test_an_api_url_that_is_not_http_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="CREDLY_API_URL"):
        CredlyClient("api.credly.com/v1", "org", TokenAuth("t"))


# -- retries -------------------------------------------------------------------------------


def test_throttling_with_retry_after_waits_as_told(
    client: CredlyClient, credly: CredlyStandIn, waits: Waits, seen: Requests
) -> None:
    credly.api.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="badges", status=429, retry_after=7, times=2)
    )

    page = client.badge_page(1, BadgeQuery())

    assert len(page.badges) == 50
    assert waits.seconds == [7.0, 7.0]
    assert seen.statuses() == [429, 429, 200]


def test_throttling_without_retry_after_backs_off_exponentially(
    client: CredlyClient, credly: CredlyStandIn, waits: Waits
) -> None:
    credly.api.knobs.add_fault(Fault(FaultKind.STATUS, route_class="badges", status=429, times=2))

    client.badge_page(1, BadgeQuery())

    assert waits.seconds == [0.5, 1.0]


def test_a_rate_limited_crawl_finishes_by_honouring_retry_after(world: World) -> None:
    # The retry policy's sleep moves the stand-in's bucket clock, so waiting really refills it.
    waits = Waits()
    with CredlyStandIn(world.credly, knobs=Knobs(clock=waits.clock)) as credly:
        credly.api.knobs.set_rate_limit("badges", RateLimit(per_second=1, burst=2))
        seen = Requests()
        client = CredlyClient(
            credly.api_url,
            world.org_ids[0],
            TokenAuth(org_token(world)),
            retry=waits.policy(),
            on_request=seen,
        )

        pages = [client.badge_page(n, BadgeQuery()) for n in (1, 2, 3, 4)]

    assert [p.current_page for p in pages] == [1, 2, 3, 4]
    assert waits.seconds == [1.0, 1.0]
    assert seen.statuses().count(429) == 2


def test_throttling_that_never_ends_surfaces_as_throttled(
    client: CredlyClient, credly: CredlyStandIn, waits: Waits
) -> None:
    credly.api.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="badges", status=429, retry_after=1, times=None)
    )

    with pytest.raises(ThrottledError) as caught:
        client.badge_page(1, BadgeQuery())

    assert caught.value.retry_after == 1.0
    assert len(waits.seconds) == ATTEMPTS - 1


def test_server_errors_are_retried_and_honour_retry_after(
    client: CredlyClient, credly: CredlyStandIn, waits: Waits
) -> None:
    knobs = credly.api.knobs
    knobs.add_fault(Fault(FaultKind.STATUS, route_class="badges", status=500))
    knobs.add_fault(Fault(FaultKind.STATUS, route_class="badges", status=503, retry_after=2))

    page = client.badge_page(1, BadgeQuery())

    assert page.current_page == 1
    assert waits.seconds == [0.5, 2.0]
    assert [e.status for e in credly.api.requests.entries()] == [500, 503, 200]


def test_a_lasting_server_error_surfaces_as_retryable_with_its_status(
    client: CredlyClient, credly: CredlyStandIn
) -> None:
    credly.api.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="organization", status=502, times=None)
    )

    with pytest.raises(RetryableError) as caught:
        client.organization()

    assert caught.value.status == 502
    assert credly.api.requests.count() == ATTEMPTS


def test_a_truncated_page_is_read_again(
    client: CredlyClient, credly: CredlyStandIn, waits: Waits, world: World
) -> None:
    credly.api.knobs.add_fault(Fault(FaultKind.TRUNCATED_JSON, route_class="badges"))

    page = client.badge_page(1, BadgeQuery())

    assert [b["id"] for b in page.badges] == [b.id for b in org_badges(world)[:50]]
    assert waits.seconds == [0.5]


def test_an_always_malformed_page_surfaces_as_retryable(
    client: CredlyClient, credly: CredlyStandIn, waits: Waits
) -> None:
    credly.api.knobs.add_fault(Fault(FaultKind.MALFORMED_JSON, route_class="badges", times=None))

    with pytest.raises(RetryableError, match="malformed response"):
        client.badge_page(1, BadgeQuery())

    assert credly.api.requests.count() == ATTEMPTS
    assert waits.seconds == [0.5, 1.0, 2.0]


def test_a_reset_connection_is_retried(
    client: CredlyClient, credly: CredlyStandIn, seen: Requests
) -> None:
    credly.api.knobs.add_fault(Fault(FaultKind.RESET, route_class="organization"))

    assert client.organization()["id"]
    assert seen.statuses() == [None, 200]


def test_a_hanging_request_times_out_and_is_retried(
    credly: CredlyStandIn, world: World, waits: Waits, seen: Requests
) -> None:
    credly.api.knobs.add_fault(Fault(FaultKind.HANG, route_class="badges", hang_s=5))
    client = CredlyClient(
        credly.api_url,
        world.org_ids[0],
        TokenAuth(org_token(world)),
        retry=waits.policy(),
        timeout=(2.0, 0.5),
        on_request=seen,
    )

    page = client.badge_page(1, BadgeQuery())

    assert page.current_page == 1
    assert seen.statuses() == [None, 200]
    assert waits.seconds == [0.5]


# -- the API host only -------------------------------------------------------------------------


def test_next_page_url_to_another_host_is_never_requested(
    client: CredlyClient, credly: CredlyStandIn, world: World
) -> None:
    credly.page_url_base = "http://203.0.113.9:9"  # a documentation address, never reachable
    requested: list[str] = []
    client.session.hooks["response"].append(lambda r, *_, **__: requested.append(r.url))

    pages = [client.badge_page(n, BadgeQuery()) for n in (1, 2)]

    assert all(p.next_page_url and p.next_page_url.startswith(credly.page_url_base) for p in pages)
    api = urlsplit(credly.api_url)
    assert [urlsplit(u).netloc for u in requested] == [api.netloc, api.netloc]


def test_requests_carry_the_badge_query_and_report_their_path(
    client: CredlyClient, credly: CredlyStandIn, seen: Requests, world: World
) -> None:
    client.badge_page(1, BadgeQuery(sort="issued_at", filters=(("state", "accepted"),)))

    (entry,) = credly.api.requests.entries()
    assert unquote(entry.query) == "page=1&sort=issued_at&filter=state::accepted"
    assert seen.seen == [(f"GET /v1/organizations/{world.org_ids[0]}/badges", 200)]
