"""The badge list read page by page: every badge once, filter and sort kept, odd answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any
from urllib.parse import parse_qs

import pytest

from credly_connector.credly import BadgeQuery, CredlyClient, TokenAuth
from credly_connector.errors import RequestError
from devstack.credly.errors import render_api_error
from devstack.credly.server import CredlyStandIn
from devstack.standin import Request, Response, StandInServer, route
from devstack.synthetic import World
from tests.credly.conftest import Waits, org_badges, org_token, walk_pages


def crawl(client: CredlyClient, query: BadgeQuery, start: int = 1) -> list[str]:
    return [b["id"] for page in walk_pages(client, query, start=start) for b in page.badges]


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

    pages = list(walk_pages(client, query))

    assert [(p.current_page, p.total_pages, p.badges) for p in pages] == [(1, 0, [])]


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


def test_items_that_are_not_objects_are_dropped_and_counted(waits: Waits) -> None:
    def mixed(request: Request) -> Response:
        return envelope([{"id": "a", "new_field": 1}, 7, "b", None, [1]], 1, 1)

    with odd_server(mixed) as server:
        client = CredlyClient(f"{server.base_url}/v1", "org", TokenAuth("t"), retry=waits.policy())

        page_one = client.badge_page(1, BadgeQuery())

    assert page_one.badges == [{"id": "a", "new_field": 1}]
    assert page_one.dropped == 4


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
