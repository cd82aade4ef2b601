"""The Microsoft Graph stand-in: Entra token endpoint plus the Graph routes the connector calls.

`GraphStandIn` serves, on loopback, the identity endpoints (client credentials, discovery),
external connections with their schema, operations and items, the people-settings profile
sources and precedence, and the directory's users (filters and delta). Bodies are checked by
`rules`, kept by `state`, tokens by `identity`; this module routes and shapes the answers.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, quote, urlencode

from devstack.graph import rules
from devstack.graph.directory import Directory, DirectoryUser
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
    TokenRefusal,
)
from devstack.graph.state import DEFAULT_SCHEMA_DELAY_S, GraphState, StateError
from devstack.httpserver import (
    Handler,
    HttpError,
    Request,
    RequestLog,
    Response,
    Route,
    StandInServer,
    TlsIdentity,
)
from devstack.knobs import Knobs

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
SYNC_STATE_NOT_FOUND = "SyncStateNotFound"
RESOURCE_NOT_FOUND = "Request_ResourceNotFound"
DEFAULT_USER_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
"""What Graph answers for a user when no `$select` is given."""


def render_error(status: int, code: str, message: str) -> dict[str, Any]:
    """Graph's OData error envelope."""
    del status  # the envelope does not repeat the status
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }


def _refuse(problems: Iterable[rules.Problem]) -> None:
    for problem in problems:
        raise HttpError(problem.status, problem.message, problem.code)


def _accept(result: T | rules.Problem) -> T:
    """The parsed value, or the problem raised as an HttpError."""
    if isinstance(result, rules.Problem):
        raise HttpError(result.status, result.message, result.code)
    return result


def _graph_route(method: str, template: str, route_class: str, handler: Handler) -> Route:
    """A route under `/v1.0` and `/beta`; `{name}` matches one segment, `{name'}` a quoted key."""
    regex = ""
    for part in re.split(r"(\{\w+'?\})", template):
        if part.startswith("{") and part.endswith("'}"):
            regex += f"'(?P<{part[1:-2]}>(?:[^']|'')+)'"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    pattern = re.compile(rf"^/(?P<version>v1\.0|beta){regex}$")
    return Route(method, pattern, route_class, handler)


def _plain_route(method: str, pattern: str, route_class: str, handler: Handler) -> Route:
    return Route(method, re.compile(pattern), route_class, handler)


def _project_user(user: DirectoryUser, select: list[str]) -> dict[str, Any]:
    data = user.to_graph()
    data.update(businessPhones=[], mobilePhone=None, officeLocation=None, preferredLanguage=None)
    return {name: data.get(name) for name in select or DEFAULT_USER_PROPERTIES}


class GraphStandIn:
    """Microsoft Graph and its Entra token endpoint, on 127.0.0.1.

    Args:
        directory: The tenant's users (read live, so tests may change it while running).
        tenant_id: The tenant GUID the token endpoint answers for.
        apps: Registered apps (default: one with the connector's four permissions).
        tls: Serve HTTPS with this identity (needed by azure-identity / MSAL).
        clock: Monotonic seconds for token expiry and schema operations (default
            `time.monotonic`); inject one to expire tokens or finish operations instantly.
        knobs: Latency, rate limits and faults (see `devstack.knobs`).
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
        self.server = StandInServer(
            "graph",
            self._routes(),
            render_error,
            knobs=knobs,
            port=port,
            tls=tls,
            request_log=request_log,
        )
        self._nonce = secrets.token_hex(4)

    # -- lifecycle and addresses ----------------------------------------------------------

    def start(self) -> Self:
        """Start serving."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

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
        def guarded(request: Request) -> Response:
            self.identity.authorize(request.header("authorization"), permissions)
            try:
                return handler(request)
            except StateError as exc:
                problem = exc.problem
                raise HttpError(problem.status, problem.message, problem.code) from exc

        return guarded

    def _routes(self) -> list[Route]:
        conn = "/external/connections/{connectionId}"
        source = "/admin/people/profileSources(sourceId={sourceId'})"
        g = self._guard
        graph = [
            ("POST", "/external/connections", "connections", CONNECTIONS_READ_WRITE,
             self._create_connection),
            ("GET", "/external/connections", "connections", CONNECTIONS_READ_WRITE,
             self._list_connections),
            ("GET", conn, "connections", CONNECTIONS_READ_WRITE, self._get_connection),
            ("PATCH", conn, "connections", CONNECTIONS_READ_WRITE, self._update_connection),
            ("DELETE", conn, "connections", CONNECTIONS_READ_WRITE, self._delete_connection),
            ("PATCH", f"{conn}/schema", "schema", CONNECTIONS_READ_WRITE, self._patch_schema),
            ("GET", f"{conn}/schema", "schema", CONNECTIONS_READ_WRITE, self._get_schema),
            ("GET", f"{conn}/operations/{{operationId}}", "operations", CONNECTIONS_READ_WRITE,
             self._get_operation),
            ("PUT", f"{conn}/items/{{itemId}}", "items", ITEMS_READ_WRITE, self._put_item),
            ("GET", f"{conn}/items/{{itemId}}", "items", ITEMS_READ_WRITE, self._get_item),
            ("DELETE", f"{conn}/items/{{itemId}}", "items", ITEMS_READ_WRITE, self._delete_item),
            ("POST", "/admin/people/profileSources", "profile", PEOPLE_SETTINGS_WRITE,
             self._create_source),
            ("GET", "/admin/people/profileSources", "profile", PEOPLE_SETTINGS_READ,
             self._list_sources),
            ("GET", source, "profile", PEOPLE_SETTINGS_READ, self._get_source),
            ("PATCH", source, "profile", PEOPLE_SETTINGS_WRITE, self._update_source),
            ("DELETE", source, "profile", PEOPLE_SETTINGS_WRITE, self._delete_source),
            ("GET", "/admin/people/profileSources/{sourceId}", "profile", PEOPLE_SETTINGS_READ,
             self._get_source),
            ("PATCH", "/admin/people/profileSources/{sourceId}", "profile",
             PEOPLE_SETTINGS_WRITE, self._update_source),
            ("DELETE", "/admin/people/profileSources/{sourceId}", "profile",
             PEOPLE_SETTINGS_WRITE, self._delete_source),
            ("GET", "/admin/people/profilePropertySettings", "profile", PEOPLE_SETTINGS_READ,
             self._list_settings),
            ("POST", "/admin/people/profilePropertySettings", "profile", PEOPLE_SETTINGS_WRITE,
             self._create_setting),
            ("GET", "/admin/people/profilePropertySettings/{settingId}", "profile",
             PEOPLE_SETTINGS_READ, self._get_setting),
            ("PATCH", "/admin/people/profilePropertySettings/{settingId}", "profile",
             PEOPLE_SETTINGS_WRITE, self._update_setting),
            ("DELETE", "/admin/people/profilePropertySettings/{settingId}", "profile",
             PEOPLE_SETTINGS_WRITE, self._delete_setting),
            ("GET", "/users/delta", "delta", USERS_READ, self._users_delta),
            ("GET", "/users/delta()", "delta", USERS_READ, self._users_delta),
            ("GET", "/users", "users", USERS_READ, self._list_users),
            ("GET", "/users/{userKey}", "users", USERS_READ, self._get_user),
        ]  # fmt: skip
        identity = [
            _plain_route("POST", r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$", "identity",
                         self._token),
            _plain_route("GET", r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$",
                         "identity", self._openid_configuration),
            _plain_route("GET", r"^/common/discovery/instance$", "identity",
                         self._instance_discovery),
        ]  # fmt: skip
        return identity + [
            _graph_route(method, path, cls, g(perms, handler))
            for method, path, cls, perms, handler in graph
        ]

    # -- identity --------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        answer = self.identity.token_response(request.params["tenant"], form)
        if isinstance(answer, TokenRefusal):
            return Response.json(answer.status, answer.body)
        return Response.json(200, answer, {"Cache-Control": "no-store, no-cache"})

    def _openid_configuration(self, request: Request) -> Response:
        config = self.identity.openid_configuration(request.base_url, request.params["tenant"])
        if config is None:
            return Response.json(
                400,
                {
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{request.params['tenant']}' "
                    "not found.",
                    "error_codes": [90002],
                },
            )
        return Response.json(200, config)

    def _instance_discovery(self, request: Request) -> Response:
        return Response.json(200, self.identity.instance_discovery(request.base_url))

    # -- connections, schema, operations ---------------------------------------------------

    @staticmethod
    def _root(request: Request) -> str:
        return f"{request.base_url}/{request.params['version']}"

    def _create_connection(self, request: Request) -> Response:
        body = request.json()
        _refuse(rules.check_connection(body))
        created = self.state.create_connection(body)
        context = f"{self._root(request)}/$metadata#external/connections/$entity"
        return Response.json(201, {"@odata.context": context, **created})

    def _list_connections(self, request: Request) -> Response:
        context = f"{self._root(request)}/$metadata#external/connections"
        return Response.json(200, {"@odata.context": context, "value": self.state.connections()})

    def _get_connection(self, request: Request) -> Response:
        found = self.state.connection(request.params["connectionId"])
        context = f"{self._root(request)}/$metadata#external/connections/$entity"
        return Response.json(200, {"@odata.context": context, **found})

    def _update_connection(self, request: Request) -> Response:
        connection_id = request.params["connectionId"]
        self.state.connection(connection_id)
        body = request.json()
        _refuse(rules.check_connection_update(body, connection_id))
        self.state.update_connection(connection_id, body)
        return Response.empty(204)

    def _delete_connection(self, request: Request) -> Response:
        self.state.delete_connection(request.params["connectionId"])
        return Response.empty(204)

    def _patch_schema(self, request: Request) -> Response:
        connection_id = request.params["connectionId"]
        connection = self.state.connection(connection_id)
        body = request.json()
        include = rules.prefers(request.header("prefer"), rules.INCLUDE_UNKNOWN_ENUM_MEMBERS)
        _refuse(rules.check_schema(body, connection.get("contentCategory"), include))
        operation_id = self.state.start_schema_operation(
            connection_id, body, rules.schema_properties(body)
        )
        location = (
            f"{self._root(request)}/external/connections/{connection['id']}"
            f"/operations/{operation_id}"
        )
        return Response.empty(202, {"Location": location})

    def _get_schema(self, request: Request) -> Response:
        schema = self.state.schema(request.params["connectionId"])
        include = rules.prefers(request.header("prefer"), rules.INCLUDE_UNKNOWN_ENUM_MEMBERS)
        properties = [
            {
                **prop,
                "type": rules.present_type(prop["type"], include),
                "labels": [rules.present_label(x, include) for x in prop.get("labels", [])],
            }
            for prop in schema["properties"]
        ]
        headers = {"Preference-Applied": rules.INCLUDE_UNKNOWN_ENUM_MEMBERS} if include else {}
        connection_id = request.params["connectionId"]
        context = (
            f"{self._root(request)}/$metadata#external/connections('{connection_id}')"
            "/schema/$entity"
        )
        payload = {"@odata.context": context, "baseType": schema["baseType"]}
        return Response.json(200, {**payload, "properties": properties}, headers)

    def _get_operation(self, request: Request) -> Response:
        found = self.state.operation(request.params["connectionId"], request.params["operationId"])
        return Response.json(200, found)

    # -- items -----------------------------------------------------------------------------

    def _put_item(self, request: Request) -> Response:
        if len(request.body) > rules.MAX_ITEM_BYTES:
            raise HttpError(
                413,
                f"The item is {len(request.body)} bytes; at most {rules.MAX_ITEM_BYTES} are "
                "allowed.",
                rules.ENTITY_TOO_LARGE,
            )
        connection_id, item_id = request.params["connectionId"], request.params["itemId"]
        schema, people = self.state.item_schema(connection_id)
        if (problem := rules.check_item_id(item_id)) is not None:
            _refuse([problem])
        body = request.json()
        verdict = rules.check_item(item_id, body, schema, people)
        _refuse(verdict.problems)
        body["id"] = item_id
        self.state.put_item(connection_id, item_id, body, verdict.ignored)
        return Response.empty(200)

    def _get_item(self, request: Request) -> Response:
        found = self.state.item(request.params["connectionId"], request.params["itemId"])
        return Response.json(200, found)

    def _delete_item(self, request: Request) -> Response:
        self.state.delete_item(request.params["connectionId"], request.params["itemId"])
        return Response.empty(204)

    # -- people settings -------------------------------------------------------------------

    @staticmethod
    def _source_key(request: Request) -> str:
        return request.params["sourceId"].replace("''", "'")

    def _create_source(self, request: Request) -> Response:
        body = request.json()
        _refuse(rules.check_profile_source(body, creating=True))
        created = self.state.create_profile_source(body)
        context = f"{self._root(request)}/$metadata#admin/people/profileSources/$entity"
        return Response.json(201, {"@odata.context": context, **created})

    def _list_sources(self, request: Request) -> Response:
        context = f"{self._root(request)}/$metadata#admin/people/profileSources"
        return Response.json(
            200, {"@odata.context": context, "value": self.state.profile_sources()}
        )

    def _get_source(self, request: Request) -> Response:
        return Response.json(200, self.state.profile_source(self._source_key(request)))

    def _update_source(self, request: Request) -> Response:
        current = self.state.profile_source(self._source_key(request))
        body = request.json()
        _refuse(rules.check_profile_source(body, creating=False, source_id=current["sourceId"]))
        return Response.json(200, self.state.update_profile_source(current["sourceId"], body))

    def _delete_source(self, request: Request) -> Response:
        self.state.delete_profile_source(self._source_key(request))
        return Response.empty(204)

    def _list_settings(self, request: Request) -> Response:
        context = f"{self._root(request)}/$metadata#admin/people/profilePropertySettings"
        return Response.json(
            200, {"@odata.context": context, "value": self.state.property_settings()}
        )

    def _create_setting(self, request: Request) -> Response:
        body = request.json()
        _refuse(rules.check_property_setting(body, creating=True))
        return Response.json(201, self.state.create_property_setting(body))

    def _get_setting(self, request: Request) -> Response:
        return Response.json(200, self.state.property_setting(request.params["settingId"]))

    def _update_setting(self, request: Request) -> Response:
        setting_id = request.params["settingId"]
        self.state.property_setting(setting_id)
        body = request.json()
        _refuse(rules.check_property_setting(body, creating=False))
        return Response.json(200, self.state.update_property_setting(setting_id, body))

    def _delete_setting(self, request: Request) -> Response:
        self.state.delete_property_setting(request.params["settingId"])
        return Response.empty(204)

    # -- users -----------------------------------------------------------------------------

    @staticmethod
    def _context(request: Request, select: list[str]) -> str:
        suffix = f"({','.join(select)})" if select else ""
        return f"{request.base_url}/{request.params['version']}/$metadata#users{suffix}"

    def _get_user(self, request: Request) -> Response:
        select = _accept(rules.parse_select(request.arg("$select")))
        key = request.params["userKey"]
        user = self.directory.get(key)
        if user is None:
            folded = key.casefold()
            user = next(
                (u for u in self.directory.users() if u.user_principal_name.casefold() == folded),
                None,
            )
        if user is None:
            raise HttpError(
                404,
                f"Resource '{key}' does not exist or one of its queried reference-property "
                "objects are not present.",
                RESOURCE_NOT_FOUND,
            )
        context = f"{self._context(request, select)}/$entity"
        return Response.json(200, {"@odata.context": context, **_project_user(user, select)})

    def _list_users(self, request: Request) -> Response:
        select = _accept(rules.parse_select(request.arg("$select")))
        eventual = (request.header("consistencylevel") or "").lower() == "eventual"
        counting = (request.arg("$count") or "").lower() == "true"
        predicates, construct = self._user_predicates(request)
        if construct is not None and not (eventual and counting):
            _refuse([rules.advanced_query_problem(construct)])
        users = [u for u in self.directory.users() if all(p(u) for p in predicates)]
        orderby = request.arg("$orderby")
        if orderby:
            attribute, descending = _accept(rules.parse_orderby(orderby))
            users.sort(key=lambda u: (getattr(u, attribute) or "").casefold(), reverse=descending)
        top = self._page_size(request.arg("$top"))
        offset = self._decode_offset(request.arg("$skiptoken"))
        page = users[offset : offset + top]
        payload: dict[str, Any] = {"@odata.context": self._context(request, select)}
        if counting:
            payload["@odata.count"] = len(users)
        if offset + top < len(users):
            payload["@odata.nextLink"] = self._users_next_link(request, offset + top)
        payload["value"] = [_project_user(u, select) for u in page]
        return Response.json(200, payload)

    @staticmethod
    def _user_predicates(request: Request) -> tuple[list[Any], str | None]:
        """The filter/search predicates of a users query, and its first advanced construct."""
        predicates: list[Any] = []
        construct: str | None = None
        text = request.arg("$filter")
        if text is not None:
            parsed = _accept(rules.parse_user_filter(text))
            predicates.append(parsed.predicate)
            construct = parsed.advanced
        search = request.arg("$search")
        if search is not None:
            predicates.append(_accept(rules.parse_search(search.strip())))
            construct = construct or "$search"
        if request.arg("$orderby") and text is not None:
            construct = construct or "$orderby with $filter"
        if request.arg("$count") is not None:
            construct = construct or "$count"
        return predicates, construct

    @staticmethod
    def _page_size(top: str | None) -> int:
        if top is None:
            return DEFAULT_PAGE_SIZE
        if not top.isdigit() or not 1 <= int(top) <= MAX_PAGE_SIZE:
            raise HttpError(
                400,
                f"Invalid page size specified: '{top}'. Must be between 1 and "
                f"{MAX_PAGE_SIZE} inclusive.",
                rules.REQUEST_UNSUPPORTED_QUERY,
            )
        return int(top)

    def _decode_offset(self, token: str | None) -> int:
        if token is None:
            return 0
        state = self._decode(token)
        if state is None or state.get("kind") != "users" or not isinstance(state.get("o"), int):
            raise HttpError(400, "The $skiptoken is invalid.", rules.BAD_REQUEST)
        return int(state["o"])

    def _users_next_link(self, request: Request, offset: int) -> str:
        pairs = [(k, v) for k, values in request.query.items() for v in values if k != "$skiptoken"]
        pairs.append(("$skiptoken", self._encode({"kind": "users", "o": offset})))
        query = urlencode(pairs, quote_via=quote, safe="$,'()")
        return f"{request.base_url}/{request.params['version']}/users?{query}"

    # -- delta -----------------------------------------------------------------------------

    def _encode(self, state: dict[str, Any]) -> str:
        raw = json.dumps({**state, "n": self._nonce}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def _decode(self, token: str) -> dict[str, Any] | None:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            state = json.loads(raw)
        except (binascii.Error, ValueError):
            return None
        if not isinstance(state, dict) or state.get("n") != self._nonce:
            return None
        return state

    @staticmethod
    def _sync_lost() -> HttpError:
        return HttpError(
            410,
            "The delta token is expired or not valid. Restart the sync: call users/delta "
            "without a $deltatoken or $skiptoken and replace the local copy with its results.",
            SYNC_STATE_NOT_FOUND,
        )

    def _delta_round(self, request: Request) -> dict[str, Any]:
        """Where this delta page starts: after/upto sequence, offset, select, full or not."""
        skiptoken, deltatoken = request.arg("$skiptoken"), request.arg("$deltatoken")
        floor = self.directory.floor
        if skiptoken is not None:
            state = self._decode(skiptoken)
            if state is None or state.get("kind") != "delta" or state["upto"] < floor:
                raise self._sync_lost()
            return state
        if deltatoken is not None:
            state = self._decode(deltatoken)
            if state is None or state.get("kind") != "deltalink" or state["after"] < floor:
                raise self._sync_lost()
            return {
                "kind": "delta",
                "full": False,
                "after": state["after"],
                "upto": self.directory.seq,
                "o": 0,
                "select": state["select"],
            }
        select = _accept(rules.parse_select(request.arg("$select")))
        if request.arg("$filter") is not None:
            raise HttpError(
                400, "The stand-in supports no $filter on users/delta.", "Request_UnsupportedQuery"
            )
        upto = self.directory.seq
        return {"kind": "delta", "full": True, "after": 0, "upto": upto, "o": 0, "select": select}

    def _users_delta(self, request: Request) -> Response:
        if request.arg("$top") is not None:
            raise HttpError(
                400,
                "The query parameter '$top' is not supported with delta; page size is set with "
                "'Prefer: odata.maxpagesize=N'.",
                rules.REQUEST_UNSUPPORTED_QUERY,
            )
        round_ = self._delta_round(request)
        requested = rules.max_page_size(request.header("prefer"))
        size = min(requested or round_.get("size") or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        changes = self.directory.changes_between(round_["after"], round_["upto"])
        if round_["full"]:
            changes = [c for c in changes if c.user is not None]
        offset = round_["o"]
        select: list[str] = round_["select"]
        value: list[dict[str, Any]] = []
        for change in changes[offset : offset + size]:
            if change.user is None:
                value.append({"id": change.user_id, "@removed": {"reason": "deleted"}})
            else:
                value.append({**_project_user(change.user, select), "id": change.user_id})
        root = f"{request.base_url}/{request.params['version']}/users/delta"
        payload: dict[str, Any] = {"@odata.context": self._context(request, select)}
        if offset + size < len(changes):
            token = self._encode({**round_, "o": offset + size, "size": size})
            payload["@odata.nextLink"] = f"{root}?$skiptoken={token}"
        else:
            token = self._encode({"kind": "deltalink", "after": round_["upto"], "select": select})
            payload["@odata.deltaLink"] = f"{root}?$deltatoken={token}"
        payload["value"] = value
        headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if requested else {}
        return Response.json(200, payload, headers)
