"""Each client talks only to its configured hosts: links and redirects elsewhere are refused.

A second loopback server named `localhost` (the configured one is `127.0.0.1`), or on another
port, stands for a foreign host; it records every request it receives and must receive none.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from credly_connector.credly import CredlyClient, OAuthAuth, TokenAuth
from credly_connector.errors import ConnectorError
from credly_connector.graph.auth import FixedTokenCredential
from credly_connector.graph.client import open_graph_client
from credly_connector.retry import RetryPolicy
from devstack.standin import Request, Response, Route, StandInServer, route

ORG = "46f14d1f-68d5-4768-8655-ce5c10bc8e33"
TOKEN = "graph-bearer-token-0a9b8c7d"
NO_RETRY = RetryPolicy(attempts=1, sleep=lambda _: None)
SCENARIO_TIMEOUT_S = 20.0


def _error(status: int, code: str, message: str) -> Any:
    return {"error": {"code": code, "message": message}}


class Foreign:
    """A server standing for another host: answers anything with 200 and records it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None, bytes]] = []
        anything = re.compile("^/.*$")
        self.server = StandInServer(
            "foreign",
            [Route(method, anything, "any", self._record) for method in ("GET", "POST", "PUT")],
            _error,
        )

    def _record(self, request: Request) -> Response:
        self.seen.append(
            (request.method, request.path, request.header("authorization"), request.body)
        )
        return Response.json(200, {"value": [], "@odata.deltaLink": "x", "access_token": "t"})

    def url(self, path: str, *, host: str = "localhost") -> str:
        """An absolute URL of `path` on this server, under the host name `host`."""
        return self.server.base_url.replace("127.0.0.1", host) + path


@contextmanager
def serving(*routes: Any) -> Iterator[StandInServer]:
    """A loopback server with `routes` (the configured host)."""
    with StandInServer("configured", list(routes), _error) as server:
        yield server


@pytest.fixture
def foreign() -> Iterator[Foreign]:
    server = Foreign()
    with server.server:
        yield server


# -- Credly ------------------------------------------------------------------------------------


def test_a_token_endpoint_redirect_never_carries_the_client_secret_away(foreign: Foreign) -> None:
    target = foreign.url("/oauth/token")

    def redirect(request: Request) -> Response:
        return Response.empty(307, {"Location": target})

    with serving(route("POST", "/oauth/token", "oauth", redirect)) as web:
        auth = OAuthAuth("client-id", "client-secret-4d2a", f"{web.base_url}/oauth/token")

        with pytest.raises(ConnectorError, match="307"):
            auth.authorization()

    assert foreign.seen == []


def test_a_badge_id_shaped_like_a_url_stays_on_the_api_host(foreign: Foreign) -> None:
    template = "/v1/organizations/{org}/badges/{badge}"
    with serving(route("GET", template, "badge", lambda _: Response.json(200, {}))) as api:
        client = CredlyClient(f"{api.base_url}/v1", ORG, TokenAuth("t"), retry=NO_RETRY)

        for hostile in (foreign.url("/v1/x"), "//" + foreign.url("/x").split("://")[1], ".."):
            with pytest.raises(ConnectorError):
                client.badge(hostile)

        paths = [entry.path for entry in api.requests.entries()]
    assert foreign.seen == []
    # ".." is refused before any request; the others are one (escaped) path segment.
    assert len(paths) == 2
    assert all(path.startswith(f"/v1/organizations/{ORG}/badges/") for path in paths)


# -- Graph -------------------------------------------------------------------------------------


async def _delta_pages(base_url: str, delta_link: str | None = None) -> list[Any]:
    async with open_graph_client(
        FixedTokenCredential(TOKEN), base_url=base_url, retry=NO_RETRY
    ) as client:
        return [page async for page in client.users_delta(delta_link)]


def _failure(scenario: Any) -> BaseException | None:
    """The exception the scenario ended with, or None when it succeeded."""
    try:
        asyncio.run(asyncio.wait_for(scenario, SCENARIO_TIMEOUT_S))
    except ConnectorError as error:
        return error
    return None


DELTA = "/v1.0/users/delta\\(\\)"  # the SDK's path (a route pattern: the brackets escaped)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"], ids=["other-host", "other-port"])
def test_a_delta_next_link_to_another_origin_is_not_followed(foreign: Foreign, host: str) -> None:
    link = foreign.url("/v1.0/users/delta?$skiptoken=stolen", host=host)

    def first_page(request: Request) -> Response:
        return Response.json(200, {"value": [{"id": "u1"}], "@odata.nextLink": link})

    with serving(route("GET", DELTA, "delta", first_page)) as graph:
        failure = _failure(_delta_pages(f"{graph.base_url}/v1.0"))

    assert foreign.seen == []
    assert failure is not None
    assert "users/delta" in str(failure)


def test_a_stored_delta_link_to_another_origin_is_refused(foreign: Foreign) -> None:
    with serving() as graph:
        stored = foreign.url("/v1.0/users/delta?$deltatoken=abc")

        failure = _failure(_delta_pages(f"{graph.base_url}/v1.0", stored))

    assert foreign.seen == []
    assert failure is not None


def test_a_redirected_item_write_never_reaches_another_host(foreign: Foreign) -> None:
    target = foreign.url("/v1.0/external/connections/c/items/i")

    def redirect(request: Request) -> Response:
        return Response.empty(307, {"Location": target})

    item_route = "/v1.0/external/connections/{connection}/items/{item}"
    with serving(route("PUT", item_route, "items", redirect)) as graph:

        async def write() -> None:
            async with open_graph_client(
                FixedTokenCredential(TOKEN), base_url=f"{graph.base_url}/v1.0", retry=NO_RETRY
            ) as client:
                await client.put_item("c", {"id": "i", "acl": [], "properties": {"x": "secret"}})

        failure = _failure(write())

    assert foreign.seen == []
    assert failure is not None
    assert "307" in str(failure)
