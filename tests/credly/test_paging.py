"""Walking badge pages: every badge once, filter and sort kept, loop guards, drift dedupe."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from credly_connector.credly import (
    BadgePage,
    BadgeQuery,
    CredlyClient,
    TokenAuth,
    dedupe_badges,
    iter_pages,
)
from credly_connector.errors import RequestError
from devstack.credly.errors import render_api_error
from devstack.credly.server import CredlyStandIn
from devstack.standin import Request, Response, StandInServer, route
from devstack.synthetic import World
from tests.credly.conftest import Waits, new_world, org_badges, org_token


def crawl(client: CredlyClient, query: BadgeQuery, start: int = 1) -> list[str]:
    return [b["id"] for page in iter_pages(client, query, start=start) for b in page.badges]


def test_a_crawl_reads_every_badge_once_in_creation_order(
    client: CredlyClient, world: World, credly: CredlyStandIn
) -> None:
    ids = crawl(client, BadgeQuery())

    badges = org_badges(world)
    assert ids == [b.id for b in sorted(badges, key=lambda b: b.created_at)]
    assert credly.api.requests.count() == -(-len(badges) // 50)


def test_filter_and_sort_are_sent_with_every_page(
    client: CredlyClient, world: World, credly: CredlyStandIn
) -> None:
    query = BadgeQuery(sort="issued_at", filters=(("state", "accepted,pending"),))

    ids = crawl(client, query)

    wanted = [b for b in org_badges(world) if b.state in ("accepted", "pending")]
    assert ids == [b.id for b in sorted(wanted, key=lambda b: b.issued_at)]
    entries = credly.api.requests.entries()
    assert len(entries) > 2
    for number, entry in enumerate(entries, start=1):
        sent = parse_qs(entry.query)
        assert sent == {
            "page": [str(number)],
            "sort": ["issued_at"],
            "filter": ["state::accepted,pending"],
        }


def test_updated_since_lists_the_badges_updated_since_the_start_of_its_day(
    client: CredlyClient, world: World
) -> None:
    badges = org_badges(world)
    since = sorted(b.updated_at for b in badges)[len(badges) * 3 // 4]
    day = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    ids = crawl(client, BadgeQuery(updated_since=since))

    expected = {b.id for b in badges if b.updated_at >= day}
    assert 0 < len(expected) < len(badges)
    assert sorted(ids) == sorted(expected)
    assert {b.id for b in badges if b.updated_at >= since} <= set(ids)


def test_a_crawl_can_resume_from_a_stored_page(client: CredlyClient, world: World) -> None:
    everything = crawl(client, BadgeQuery())

    assert crawl(client, BadgeQuery(), start=3) == everything[100:]


def test_an_empty_list_is_one_empty_page(client: CredlyClient) -> None:
    query = BadgeQuery(filters=(("issuer_earner_id", "nobody-has-this"),))

    pages = list(iter_pages(client, query))

    assert [(p.current_page, p.total_pages, p.badges) for p in pages] == [(1, 0, [])]


def test_the_page_cap_stops_a_list_longer_than_expected(
    credly: CredlyStandIn, world: World
) -> None:
    client = CredlyClient(
        credly.api_url, world.org_ids[0], TokenAuth(org_token(world)), max_pages=2
    )
    pages = iter_pages(client, BadgeQuery())

    assert [next(pages).current_page, next(pages).current_page] == [1, 2]
    with pytest.raises(RequestError, match="loop guard"):
        next(pages)


def test_offset_drift_repeats_are_dropped(waits: Waits) -> None:
    world = new_world(seed=12)
    org_id = world.org_ids[0]
    badges = org_badges(world)
    with CredlyStandIn(world.credly) as credly:
        client = CredlyClient(
            credly.api_url, org_id, TokenAuth(org_token(world)), retry=waits.policy()
        )

        def drifting() -> Iterator[BadgePage]:
            for page in iter_pages(client, BadgeQuery()):
                yield page
                if page.current_page == 1:
                    # A badge sorted before page 1 pushes every later badge one place on.
                    earliest = min(b.created_at for b in badges) - timedelta(days=1)
                    world.credly.put_badge(replace(badges[0], id="drift-0", created_at=earliest))

        pages = list(drifting())
        ids = [b["id"] for b in dedupe_badges(pages)]

    raw = [b["id"] for p in pages for b in p.badges]
    assert len(raw) == len(set(raw)) + 1  # page 1's last badge came again on page 2
    assert sorted(ids) == sorted(b.id for b in badges)


def test_dedupe_keeps_the_first_sighting_and_badges_without_an_id() -> None:
    pages = [
        page(1, [{"id": "a"}, {"id": "b"}]),
        page(2, [{"id": "b"}, {"id": "c"}, {"name": "no id"}, {"name": "no id"}]),
    ]

    assert list(dedupe_badges(pages)) == [
        {"id": "a"},
        {"id": "b"},
        {"id": "c"},
        {"name": "no id"},
        {"name": "no id"},
    ]


# -- a server that misbehaves in ways the stand-in does not ------------------------------------


def odd_server(answer: Callable[[Request], Response]) -> StandInServer:
    return StandInServer(
        "odd-credly",
        [route("GET", "/v1/organizations/{org}/badges", "badges", answer)],
        render_api_error,
    )


def envelope(data: list[Any], current_page: int, total_pages: int) -> Response:
    metadata = {
        "count": len(data),
        "current_page": current_page,
        "total_count": 50 * total_pages,
        "total_pages": total_pages,
        "per": 50,
        "next_page_url": None,
    }
    return Response.json(200, {"data": data, "metadata": metadata})


def test_a_server_that_ignores_the_page_number_is_not_looped_on(waits: Waits) -> None:
    def always_first(request: Request) -> Response:
        return envelope([{"id": "same"}], current_page=1, total_pages=5)

    with odd_server(always_first) as server:
        client = CredlyClient(f"{server.base_url}/v1", "org", TokenAuth("t"), retry=waits.policy())

        with pytest.raises(RequestError, match="answered page 1 again"):
            list(iter_pages(client, BadgeQuery()))

        assert server.requests.count() == 2


def test_items_that_are_not_objects_are_dropped_and_counted(waits: Waits) -> None:
    def mixed(request: Request) -> Response:
        return envelope([{"id": "a", "new_field": 1}, 7, "b", None, [1]], 1, 1)

    with odd_server(mixed) as server:
        client = CredlyClient(f"{server.base_url}/v1", "org", TokenAuth("t"), retry=waits.policy())

        page_one = client.badge_page(1, BadgeQuery())

    assert page_one.badges == [{"id": "a", "new_field": 1}]
    assert page_one.dropped == 4
    assert not page_one.is_empty


def test_a_redirect_to_another_host_is_not_followed(
    credly: CredlyStandIn, world: World, waits: Waits
) -> None:
    target = f"{credly.api_url}/organizations/{world.org_ids[0]}/badges"

    def redirect(request: Request) -> Response:
        return Response.empty(302, {"Location": target})

    with odd_server(redirect) as server:
        client = CredlyClient(
            f"{server.base_url}/v1",
            world.org_ids[0],
            TokenAuth(org_token(world)),
            retry=waits.policy(),
        )

        with pytest.raises(RequestError) as caught:
            client.badge_page(1, BadgeQuery())

    assert caught.value.status == 302
    assert credly.api.requests.count() == 0


def page(number: int, badges: list[dict[str, Any]]) -> BadgePage:
    return BadgePage(number, badges, 2, 100, number, None)
