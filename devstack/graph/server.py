"""The Microsoft Graph stand-in: Entra token endpoint plus the Graph routes the connector calls.

`GraphStandIn` is the composition: it builds the tenant's `Identity` and the service state
once, and declares the route table (path, route class for the knobs, permission needed,
handler). The handlers live by area, beside the state they serve: `identity` (tokens, OpenID
configuration), `connectors` (connections, schema, operations, items), `people_settings`
(profile sources and precedence) and `users_api` (users/delta). Bodies are checked by `rules`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Self

from devstack.graph.app_registrations import (
    CONNECTIONS_READ_WRITE,
    ITEMS_READ_WRITE,
    PEOPLE_SETTINGS_READ,
    PEOPLE_SETTINGS_WRITE,
    USERS_READ,
)
from devstack.graph.connectors import DEFAULT_SCHEMA_DELAY_S, ConnectorsState
from devstack.graph.directory import Directory
from devstack.graph.identity import (
    DEFAULT_CLIENT_ID,
    DEFAULT_TENANT_ID,
    DEFAULT_TOKEN_LIFETIME_S,
    App,
    Identity,
)
from devstack.graph.item_gate import ItemGate
from devstack.graph.odata import render_error
from devstack.graph.people_settings import PeopleSettingsState
from devstack.graph.users_api import UsersApi
from devstack.lifecycle import Service
from devstack.standin import (
    Handler,
    Knobs,
    Request,
    Response,
    Route,
    StandInServer,
    TlsIdentity,
)


def _graph_route(method: str, template: str, route_class: str, handler: Handler) -> Route:
    """A route under `/v1.0` and `/beta`; `{name}` matches one segment, `{name'}` a quoted key.

    The version may be followed by a doubled slash (`/v1.0//users`): msgraph-sdk sends that
    when its base URL comes from its httpx client (httpx adds a trailing slash), and Graph
    accepts it.
    """
    regex = ""
    for part in re.split(r"(\{\w+'?\})", template):
        if part.startswith("{") and part.endswith("'}"):
            regex += f"'(?P<{part[1:-2]}>(?:[^']|'')+)'"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return Route(method, re.compile(rf"^/(?P<version>v1\.0|beta)/?{regex}$"), route_class, handler)


@dataclass(frozen=True)
class GraphState:
    """The service state: `connectors` and `people_settings`."""

    connectors: ConnectorsState
    people_settings: PeopleSettingsState


class GraphStandIn(Service):
    """Microsoft Graph and its Entra token endpoint, on 127.0.0.1."""

    def __init__(
        self,
        directory: Directory,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        apps: Iterable[App] | None = None,
        tls: TlsIdentity | None = None,
        clock: Callable[[], float] | None = None,
        knobs: Knobs | None = None,
        schema_delay_s: float = DEFAULT_SCHEMA_DELAY_S,
        token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
    ) -> None:
        """Build the stand-in (not serving until `start`).

        Args:
            directory: The tenant's users (read live, so tests may change it while running).
            tenant_id: The tenant GUID the token endpoint answers for.
            apps: Registered apps (default: one with the connector's four permissions).
            tls: Serve HTTPS with this identity (needed by azure-identity / MSAL).
            clock: Monotonic seconds for token expiry and schema operations (default
                `time.monotonic`); inject one to expire tokens or finish operations instantly.
            knobs: Latency, rate limits and faults (see `devstack.standin`).
            schema_delay_s: How long schema operations stay `inprogress`.
            token_lifetime_s: Lifetime of issued tokens.
        """
        clock = clock or time.monotonic
        self.directory = directory
        self.identity = Identity(tenant_id, apps, clock=clock, token_lifetime_s=token_lifetime_s)
        people = PeopleSettingsState(clock)
        self.state = GraphState(ConnectorsState(clock, schema_delay_s), people)
        # Knobs read at request time: the server (and its knobs) is built from these routes.
        gate = ItemGate(tenant_id, lambda: self.server.knobs, people.registered_at, clock)
        self.server = StandInServer("graph", self._routes(gate), render_error, knobs=knobs, tls=tls)

    # -- lifecycle and addresses ----------------------------------------------------------

    def start(self) -> Self:
        """Start serving."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self.server.stop()

    @property
    def base_url(self) -> str:
        """`http(s)://127.0.0.1:<port>`."""
        return self.server.base_url

    @property
    def graph_url(self) -> str:
        """The Graph v1.0 root, `<base_url>/v1.0`."""
        return f"{self.base_url}/v1.0"

    @property
    def authority(self) -> str:
        """`127.0.0.1:<port>`, the `authority` to give azure-identity (needs TLS)."""
        return self.base_url.split("://", 1)[1]

    @property
    def tenant_id(self) -> str:
        """The tenant GUID."""
        return self.identity.tenant_id

    @property
    def token_url(self) -> str:
        """The client-credentials token endpoint."""
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def knobs(self) -> Knobs:
        """The server's knobs."""
        return self.server.knobs

    # -- apps and tokens -------------------------------------------------------------------

    @property
    def apps(self) -> list[App]:
        """The registered apps, the default app (`DEFAULT_CLIENT_ID`) first when registered."""
        return self.identity.apps()

    def token(self, client_id: str = DEFAULT_CLIENT_ID) -> str:
        """A fresh access token for a registered app (no HTTP round trip)."""
        return self.identity.mint_token(client_id)

    def register_app(self, app: App) -> App:
        """Register (or replace) an app with its granted permissions."""
        return self.identity.register_app(app)

    # -- routing ---------------------------------------------------------------------------

    def _guard(self, permissions: frozenset[str], handler: Handler) -> Handler:
        """The handler behind a bearer-token check for one of `permissions`."""

        def guarded(request: Request) -> Response:
            self.identity.authorize(request.header("authorization"), permissions)
            return handler(request)

        return guarded

    def _routes(self, gate: ItemGate) -> list[Route]:
        connectors, people = self.state.connectors, self.state.people_settings
        users = UsersApi(self.directory)
        connections, connection = "/external/connections", "/external/connections/{connectionId}"
        item = f"{connection}/items/{{itemId}}"
        sources = "/admin/people/profileSources"
        source = f"{sources}(sourceId={{sourceId'}})"
        settings = "/admin/people/profilePropertySettings"
        conn, read, write = CONNECTIONS_READ_WRITE, PEOPLE_SETTINGS_READ, PEOPLE_SETTINGS_WRITE
        graph = [
            ("POST", connections, "connections", conn, connectors.post_connection),
            ("GET", connections, "connections", conn, connectors.list_connections),
            ("GET", connection, "connections", conn, connectors.get_connection),
            ("DELETE", connection, "connections", conn, connectors.delete_connection),
            ("PATCH", f"{connection}/schema", "schema", conn, connectors.patch_schema),
            ("GET", f"{connection}/schema", "schema", conn, connectors.get_schema),
            ("GET", f"{connection}/operations/{{operationId}}", "operations", conn,
             connectors.get_operation),
            ("PUT", item, "items", ITEMS_READ_WRITE,
             gate.writing(connectors.put_item, put=True)),
            ("DELETE", item, "items", ITEMS_READ_WRITE,
             gate.writing(connectors.delete_item, put=False)),
            ("POST", sources, "profile", write, people.create_source),
            ("GET", source, "profile", read, people.get_source),
            ("PATCH", source, "profile", write, people.update_source),
            ("DELETE", source, "profile", write, people.delete_source),
            ("GET", settings, "profile", read, people.list_settings),
            ("POST", settings, "profile", write, people.create_setting),
            ("GET", f"{settings}/{{settingId}}", "profile", read, people.get_setting),
            ("PATCH", f"{settings}/{{settingId}}", "profile", write, people.update_setting),
            ("GET", "/users/delta", "delta", USERS_READ, users.users_delta),
            ("GET", "/users/delta()", "delta", USERS_READ, users.users_delta),
        ]  # fmt: skip
        tenant = r"^/(?P<tenant>[^/]+)"
        identity = [
            Route("POST", re.compile(rf"{tenant}/oauth2/v2\.0/token$"), "identity",
                  self.identity.token_route),
            Route("GET", re.compile(rf"{tenant}/v2\.0/\.well-known/openid-configuration$"),
                  "identity", self.identity.openid_configuration_route),
        ]  # fmt: skip
        return identity + [
            _graph_route(method, path, cls, self._guard(perms, handler))
            for method, path, cls, perms, handler in graph
        ]
