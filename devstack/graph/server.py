"""The Microsoft Graph stand-in: Entra token endpoint plus the Graph routes the connector calls.

`GraphStandIn` is the composition: it builds the tenant's `Identity`, the service `GraphState`
and the route handlers once, and declares the route table (path, route class for the knobs,
permission needed, handler). The handlers live by area: `identity_api` (tokens, discovery),
`connectors_api` (connections, schema, operations, items), `people_api` (profile sources and
precedence) and `users_api` (users, delta). Bodies are checked by `rules`, kept by `state`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Self

from devstack.graph.connectors_api import ConnectorsApi
from devstack.graph.directory import Directory
from devstack.graph.identity import (
    CONNECTIONS_READ_WRITE,
    DEFAULT_CLIENT_ID,
    DEFAULT_TENANT_ID,
    DEFAULT_TOKEN_LIFETIME_S,
    ITEMS_READ_WRITE,
    PEOPLE_SETTINGS_READ,
    PEOPLE_SETTINGS_WRITE,
    USERS_READ,
    App,
    Identity,
)
from devstack.graph.identity_api import IdentityApi
from devstack.graph.item_gate import ItemGate
from devstack.graph.odata import http_error, render_error
from devstack.graph.people_api import PeopleApi
from devstack.graph.state import DEFAULT_SCHEMA_DELAY_S, GraphState, StateError
from devstack.graph.users_api import UsersApi
from devstack.lifecycle import Service
from devstack.standin import (
    Handler,
    Knobs,
    Request,
    RequestLog,
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
    pattern = re.compile(rf"^/(?P<version>v1\.0|beta)/?{regex}$")
    return Route(method, pattern, route_class, handler)


def _plain_route(method: str, pattern: str, route_class: str, handler: Handler) -> Route:
    return Route(method, re.compile(pattern), route_class, handler)


class GraphStandIn(Service):
    """Microsoft Graph and its Entra token endpoint, on 127.0.0.1.

    Args:
        directory: The tenant's users (read live, so tests may change it while running).
        tenant_id: The tenant GUID the token endpoint answers for.
        apps: Registered apps (default: one with the connector's four permissions).
        tls: Serve HTTPS with this identity (needed by azure-identity / MSAL).
        clock: Monotonic seconds for token expiry and schema operations (default
            `time.monotonic`); inject one to expire tokens or finish operations instantly.
        knobs: Latency, rate limits and faults (see `devstack.standin`).
        port: The port to bind (0: a free one).
        schema_delay_s: How long schema operations stay `inprogress`.
        token_lifetime_s: Lifetime of issued tokens.
        request_log: A shared request log (default: a new one).
    """

    def __init__(
        self,
        directory: Directory,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        apps: Iterable[App] | None = None,
        tls: TlsIdentity | None = None,
        clock: Callable[[], float] | None = None,
        knobs: Knobs | None = None,
        port: int = 0,
        schema_delay_s: float = DEFAULT_SCHEMA_DELAY_S,
        token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
        request_log: RequestLog | None = None,
    ) -> None:
        clock = clock or time.monotonic
        self.directory = directory
        self.identity = Identity(tenant_id, apps, clock=clock, token_lifetime_s=token_lifetime_s)
        self.state = GraphState(clock, schema_delay_s)
        # Read at request time: the server (and its knobs) is built from these routes.
        self.gate = ItemGate(tenant_id, lambda: self.server.knobs, clock)
        self.server = StandInServer(
            "graph",
            self._routes(),
            render_error,
            knobs=knobs,
            port=port,
            tls=tls,
            request_log=request_log,
        )

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

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (the next Graph call answers 401)."""
        self.identity.revoke_all()

    # -- routing ---------------------------------------------------------------------------

    def _guard(self, permissions: frozenset[str], handler: Handler) -> Handler:
        """The handler behind a bearer-token check; state refusals answer as their problem."""

        def guarded(request: Request) -> Response:
            self.identity.authorize(request.header("authorization"), permissions)
            try:
                return handler(request)
            except StateError as exc:
                raise http_error(exc.problem) from exc

        return guarded

    def _routes(self) -> list[Route]:
        tokens = IdentityApi(self.identity)
        connectors = ConnectorsApi(self.state.connectors)
        people = PeopleApi(self.state.people_settings)
        users = UsersApi(self.directory)
        connection = "/external/connections/{connectionId}"
        item = f"{connection}/items/{{itemId}}"
        sources = "/admin/people/profileSources"
        settings = "/admin/people/profilePropertySettings"
        read, write = PEOPLE_SETTINGS_READ, PEOPLE_SETTINGS_WRITE
        # A profile source is addressed by its quoted key or, like Graph also allows, by path.
        source_routes = [
            route
            for source in (f"{sources}(sourceId={{sourceId'}})", f"{sources}/{{sourceId}}")
            for route in [
                ("GET", source, "profile", read, people.get_source),
                ("PATCH", source, "profile", write, people.update_source),
                ("DELETE", source, "profile", write, people.delete_source),
            ]
        ]
        graph = [
            ("POST", "/external/connections", "connections", CONNECTIONS_READ_WRITE,
             connectors.create_connection),
            ("GET", "/external/connections", "connections", CONNECTIONS_READ_WRITE,
             connectors.list_connections),
            ("GET", connection, "connections", CONNECTIONS_READ_WRITE, connectors.get_connection),
            ("PATCH", connection, "connections", CONNECTIONS_READ_WRITE,
             connectors.update_connection),
            ("DELETE", connection, "connections", CONNECTIONS_READ_WRITE,
             connectors.delete_connection),
            ("PATCH", f"{connection}/schema", "schema", CONNECTIONS_READ_WRITE,
             connectors.patch_schema),
            ("GET", f"{connection}/schema", "schema", CONNECTIONS_READ_WRITE,
             connectors.get_schema),
            ("GET", f"{connection}/operations/{{operationId}}", "operations",
             CONNECTIONS_READ_WRITE, connectors.get_operation),
            ("PUT", item, "items", ITEMS_READ_WRITE,
             self.gate.writing(connectors.put_item, put=True)),
            ("GET", item, "items", ITEMS_READ_WRITE, connectors.get_item),
            ("DELETE", item, "items", ITEMS_READ_WRITE,
             self.gate.writing(connectors.delete_item, put=False)),
            ("POST", sources, "profile", write, self.gate.registering(people.create_source)),
            ("GET", sources, "profile", read, people.list_sources),
            *source_routes,
            ("GET", settings, "profile", read, people.list_settings),
            ("POST", settings, "profile", write, people.create_setting),
            ("GET", f"{settings}/{{settingId}}", "profile", read, people.get_setting),
            ("PATCH", f"{settings}/{{settingId}}", "profile", write, people.update_setting),
            ("DELETE", f"{settings}/{{settingId}}", "profile", write, people.delete_setting),
            ("GET", "/users/delta", "delta", USERS_READ, users.users_delta),
            ("GET", "/users/delta()", "delta", USERS_READ, users.users_delta),
        ]  # fmt: skip
        identity = [
            _plain_route("POST", r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$", "identity",
                         tokens.token),
            _plain_route("GET", r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$",
                         "identity", tokens.openid_configuration),
            _plain_route("GET", r"^/common/discovery/instance$", "identity",
                         tokens.instance_discovery),
        ]  # fmt: skip
        return identity + [
            _graph_route(method, path, cls, self._guard(perms, handler))
            for method, path, cls, perms, handler in graph
        ]
