"""The Credly stand-in: the Web Service API v1 and the OAuth token endpoint on loopback.

Two `StandInServer`s share one `CredlyData` store: the "api" server answers
`/v1/organizations/...` like `api.credly.com`, the "web" server answers `POST /oauth/token`
like `www.credly.com` (Credly's token endpoint is not on the API host).

Access rules, decided where Credly's docs are silent:

- A request authenticates with HTTP Basic (an organisation's authorization token as user
  name and an empty password; `base64(token)` without a colon is accepted too) or with
  `Bearer <access token>` from the OAuth endpoint. A missing, unknown, expired or revoked
  credential answers 401.
- An unknown organisation, badge or event answers 404 (after authentication).
- A valid credential of another organisation, a token with `read_enabled` false, or an
  access token without the route's scope answers 403. Scopes: `issued_badges` for badges,
  `events` for events, `authorization_tokens` for the token list; organisation reads need
  only a valid credential.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

from devstack.credly.query import (
    BadgeFilter,
    EmailIndex,
    QueryError,
    SortKey,
    build_email_index,
    filter_badges,
    narrow_by_email,
    page_items,
    page_metadata,
    page_url,
    parse_filter,
    parse_page,
    parse_sort,
    sort_badges,
)
from devstack.credly.records import AuthToken, CredlyData, IssuedBadge, Organization
from devstack.credly.render import (
    BadgeRenderer,
    render_event,
    render_organization,
    render_token,
)
from devstack.httpserver import HttpError, Request, Response, StandInServer, TlsIdentity, route
from devstack.knobs import Knobs

DEFAULT_TOKEN_LIFETIME_S = 7200
BADGE_SCOPE = "issued_badges"
EVENTS_SCOPE = "events"
TOKENS_SCOPE = "authorization_tokens"
_CACHE_ENTRIES = 16


def render_api_error(status: int, code: str, message: str) -> dict[str, Any]:
    """Credly's error envelope: `{"data": {"message": ...}, "metadata": {}}`."""
    return {"data": {"message": message}, "metadata": {}}


def render_oauth_error(status: int, code: str, message: str) -> dict[str, str]:
    """The OAuth 2.0 error shape; the base server's CamelCase codes become snake_case."""
    if not code.islower():
        if status == 503:
            code = "temporarily_unavailable"
        elif status >= 500:
            code = "server_error"
        else:
            code = _snake_case(code)
    return {"error": code, "error_description": message}


def _snake_case(code: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in code).lstrip("_")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AccessGrant:
    """An access token issued by the OAuth endpoint."""

    token: str
    org_id: str
    client_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Caller:
    """Who a request authenticated as: an authorization token or an OAuth access grant."""

    org_id: str
    token: AuthToken | None = None
    grant: AccessGrant | None = None


class CredlyStandIn:
    """Credly's API ("api" server) and OAuth endpoint ("web" server) over one data store.

    Attributes:
        data: The store both servers read; tests may change it while they run.
        api: The API server; route classes "organization", "badges", "badge", "events",
            "tokens". Tests read `api.requests` and turn `api.knobs`.
        web: The OAuth server; route class "oauth".
        token_lifetime_s: Lifetime of newly issued access tokens.
        clock: The stand-in's clock for token expiry (aware UTC datetimes).
        page_url_base: Scheme and host (no `/v1`) used in `next_page_url` and
            `previous_page_url`; None for the API server's own base URL.
        cache_min_badges: Organisations with at least this many badges get their filtered and
            sorted badge lists cached against `data.version` (edit records in place only with
            `data.touch()` afterwards).

    Args:
        data: The store to serve.
        token_lifetime_s: Lifetime of issued access tokens (`expires_in`).
        clock: Returns "now" as an aware UTC datetime; defaults to the real clock. Both
            authorization-token and access-token expiry read it.
        knobs: The API server's knobs (a fresh set when None).
        web_knobs: The OAuth server's own knobs, so API faults never hit token requests.
        api_port: Fixed port of the API server (0: any free port).
        web_port: Fixed port of the OAuth server (0: any free port).
        tls: Serve both over HTTPS with this identity.
    """

    def __init__(
        self,
        data: CredlyData,
        *,
        token_lifetime_s: int = DEFAULT_TOKEN_LIFETIME_S,
        clock: Callable[[], datetime] | None = None,
        knobs: Knobs | None = None,
        web_knobs: Knobs | None = None,
        api_port: int = 0,
        web_port: int = 0,
        tls: TlsIdentity | None = None,
    ) -> None:
        self.data = data
        self.token_lifetime_s = token_lifetime_s
        self.clock: Callable[[], datetime] = clock or _utc_now
        self.page_url_base: str | None = None
        self.cache_min_badges = 5000
        self.renderer = BadgeRenderer(data)
        self._grants: dict[str, AccessGrant] = {}
        self._grants_lock = threading.Lock()
        self._lists: dict[tuple[str, BadgeFilter, tuple[SortKey, ...]], _CachedList] = {}
        self._email_indexes: dict[str, tuple[int, EmailIndex]] = {}
        self._lists_lock = threading.Lock()
        org = "/v1/organizations/{org}"
        self.api = StandInServer(
            "credly-api",
            [
                route("GET", "/v1/organizations", "organization", self._list_organizations),
                route("GET", org, "organization", self._get_organization),
                route("GET", f"{org}/badges", "badges", self._list_badges),
                route("GET", f"{org}/badges/{{badge}}", "badge", self._get_badge),
                route("GET", f"{org}/events/{{event}}", "events", self._get_event),
                route("GET", f"{org}/authorization_tokens", "tokens", self._list_tokens),
            ],
            render_api_error,
            knobs=knobs,
            port=api_port,
            tls=tls,
        )
        self.web = StandInServer(
            "credly-web",
            [route("POST", "/oauth/token", "oauth", self._issue_token)],
            render_oauth_error,
            knobs=web_knobs,
            port=web_port,
            tls=tls,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start both servers (stopping the first if the second fails)."""
        self.api.start()
        try:
            self.web.start()
        except BaseException:
            self.api.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers."""
        try:
            self.web.stop()
        finally:
            self.api.stop()

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
    def api_url(self) -> str:
        """The API base URL, e.g. `http://127.0.0.1:PORT/v1`."""
        return f"{self.api.base_url}/v1"

    @property
    def web_url(self) -> str:
        """The web site base URL hosting the OAuth endpoint, e.g. `http://127.0.0.1:PORT`."""
        return self.web.base_url

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint."""
        return f"{self.web.base_url}/oauth/token"

    # -- access tokens ---------------------------------------------------------------------

    def access_grants(self) -> list[AccessGrant]:
        """The access tokens issued and not revoked (expired ones included)."""
        with self._grants_lock:
            return list(self._grants.values())

    def revoke_access_tokens(self) -> int:
        """Revoke every issued access token at once; returns how many there were."""
        with self._grants_lock:
            count = len(self._grants)
            self._grants.clear()
            return count

    def _issue_token(self, request: Request) -> Response:
        fields = _oauth_fields(request)
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise HttpError(400, "grant_type is required", "invalid_request")
        if grant_type != "client_credentials":
            raise HttpError(
                400, f"grant type {grant_type!r} is not supported", "unsupported_grant_type"
            )
        client_id, client_secret = _client_credentials(request, fields)
        found = self.data.find_oauth_app(client_id) if client_id else None
        if found is None or not hmac.compare_digest(
            found[1].client_secret.encode(), client_secret.encode()
        ):
            raise HttpError(401, "client authentication failed", "invalid_client")
        org, app = found
        requested = fields.get("scope", "").split()
        unknown = [s for s in requested if s not in app.scopes]
        if unknown:
            raise HttpError(
                400, f"scope(s) {' '.join(unknown)} not granted to this client", "invalid_scope"
            )
        scopes = tuple(dict.fromkeys(requested)) if requested else tuple(app.scopes)
        now = self.clock()
        grant = AccessGrant(
            token=secrets.token_urlsafe(32),
            org_id=org.id,
            client_id=app.client_id,
            scopes=scopes,
            created_at=now,
            expires_at=now + timedelta(seconds=self.token_lifetime_s),
        )
        with self._grants_lock:
            self._grants[grant.token] = grant
        payload = {
            "access_token": grant.token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_s,
            "scope": " ".join(scopes),
            "created_at": int(now.timestamp()),
        }
        return Response.json(200, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    # -- authentication --------------------------------------------------------------------

    def _authenticate(self, request: Request) -> Caller:
        header = request.header("Authorization") or ""
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "basic" and credential:
            return self._basic_caller(credential)
        if scheme.lower() == "bearer" and credential:
            return self._bearer_caller(credential)
        raise _unauthorized("authentication required: HTTP Basic token or Bearer access token")

    def _basic_caller(self, credential: str) -> Caller:
        try:
            decoded = base64.b64decode(credential, validate=True).decode("utf-8")
        except ValueError:
            raise _unauthorized("malformed Basic credentials") from None
        token, colon, password = decoded.partition(":")
        if colon and password:
            raise _unauthorized("the password must be empty; send the token as user name")
        found = self.data.find_token(token) if token else None
        if found is None:
            raise _unauthorized("invalid authorization token")
        org, record = found
        if record.expires_at is not None and record.expires_at <= self.clock():
            raise _unauthorized("authorization token has expired")
        return Caller(org.id, token=record)

    def _bearer_caller(self, credential: str) -> Caller:
        with self._grants_lock:
            grant = self._grants.get(credential)
        if grant is None:
            raise _unauthorized("invalid or revoked access token")
        if grant.expires_at <= self.clock():
            raise _unauthorized("access token has expired")
        return Caller(grant.org_id, grant=grant)

    def _authorize(self, request: Request, scope: str | None) -> tuple[Caller, Organization]:
        """Authenticate (401), find the path's organisation (404), check access (403)."""
        caller = self._authenticate(request)
        org = self.data.orgs.get(request.params["org"])
        if org is None:
            raise HttpError(404, f"organization {request.params['org']} not found", "NotFound")
        if caller.org_id != org.id:
            raise HttpError(403, "credential does not grant access to this organization")
        if caller.token is not None and not caller.token.read_enabled:
            raise HttpError(403, "authorization token is not read-enabled")
        if caller.grant is not None and scope is not None and scope not in caller.grant.scopes:
            raise HttpError(403, f"access token lacks the {scope!r} scope")
        return caller, org

    # -- API routes ------------------------------------------------------------------------

    def _list_organizations(self, request: Request) -> Response:
        caller = self._authenticate(request)
        org = self.data.orgs.get(caller.org_id)
        items = [render_organization(org)] if org is not None else []
        return self._list_response(request, items)

    def _get_organization(self, request: Request) -> Response:
        _, org = self._authorize(request, None)
        return Response.json(200, {"data": render_organization(org)})

    def _list_badges(self, request: Request) -> Response:
        _, org = self._authorize(request, BADGE_SCOPE)
        filter_raw, sort_raw = request.arg("filter"), request.arg("sort")
        try:
            page = parse_page(request.arg("page"))
            badge_filter = parse_filter(filter_raw)
            keys = parse_sort(sort_raw)
        except QueryError as exc:
            raise HttpError(422, str(exc), "UnprocessableEntity") from exc
        selected = self._select(org.id, badge_filter, keys)
        data = [self.renderer.badge(b) for b in page_items(selected, page)]
        base = f"{self.page_url_base or request.base_url}{request.path}"
        metadata = page_metadata(
            len(selected), page, len(data), lambda n: page_url(base, n, filter_raw, sort_raw)
        )
        return Response.json(200, {"data": data, "metadata": metadata})

    def _get_badge(self, request: Request) -> Response:
        _, org = self._authorize(request, BADGE_SCOPE)
        badge = self.data.badge(org.id, request.params["badge"])
        if badge is None:
            raise HttpError(404, f"badge {request.params['badge']} not found", "NotFound")
        return Response.json(200, {"data": self.renderer.badge(badge)})

    def _get_event(self, request: Request) -> Response:
        """The event with its badge; a deleted badge is shown as `{"id": ...}` only."""
        _, org = self._authorize(request, EVENTS_SCOPE)
        event = self.data.events.get(request.params["event"])
        if event is None or event.org_id != org.id:
            raise HttpError(404, f"event {request.params['event']} not found", "NotFound")
        badge_json: dict[str, Any] | None = None
        if event.badge_id is not None:
            badge = self.data.badge(org.id, event.badge_id)
            badge_json = self.renderer.badge(badge) if badge else {"id": event.badge_id}
        return Response.json(200, {"data": render_event(event, badge_json)})

    def _list_tokens(self, request: Request) -> Response:
        """The organisation's tokens; a read-only token sees only the read-only ones."""
        caller, org = self._authorize(request, TOKENS_SCOPE)
        tokens = list(org.tokens)
        if caller.token is not None and not (
            caller.token.write_enabled or caller.token.delete_enabled
        ):
            tokens = [t for t in tokens if not (t.write_enabled or t.delete_enabled)]
        return self._list_response(request, [render_token(t, org) for t in tokens])

    def _list_response(self, request: Request, items: list[dict[str, Any]]) -> Response:
        try:
            page = parse_page(request.arg("page"))
        except QueryError as exc:
            raise HttpError(422, str(exc), "UnprocessableEntity") from exc
        data = list(page_items(items, page))
        base = f"{self.page_url_base or request.base_url}{request.path}"
        metadata = page_metadata(len(items), page, len(data), lambda n: page_url(base, n, "", ""))
        return Response.json(200, {"data": data, "metadata": metadata})

    # -- badge selection -------------------------------------------------------------------

    def _select(
        self, org_id: str, badge_filter: BadgeFilter, keys: tuple[SortKey, ...]
    ) -> list[IssuedBadge]:
        """The organisation's badges, filtered and sorted; cached for large organisations."""
        version = self.data.version  # read before the snapshot: a race only misses the cache
        cacheable = len(self.data.badges.get(org_id, {})) >= self.cache_min_badges
        key = (org_id, badge_filter, keys)
        if cacheable:
            with self._lists_lock:
                cached = self._lists.pop(key, None)
                if cached is not None and cached.version == version:
                    self._lists[key] = cached  # most recently used last
                    return cached.badges
        narrowed = self._email_candidates(org_id, badge_filter, version) if cacheable else None
        selected = narrowed if narrowed is not None else self.data.org_badges(org_id)
        if not badge_filter.is_empty:
            selected = filter_badges(selected, badge_filter, self.data.users)
        if keys:
            selected = sort_badges(selected, keys)
        if cacheable and narrowed is None:  # email look-ups are cheap: keep crawl orders
            with self._lists_lock:
                self._lists[key] = _CachedList(version, selected)
                while len(self._lists) > _CACHE_ENTRIES:
                    del self._lists[next(iter(self._lists))]
        return selected

    def _email_candidates(
        self, org_id: str, badge_filter: BadgeFilter, version: int
    ) -> list[IssuedBadge] | None:
        """The badges the filter's email keys match, from an index kept per data version."""
        if badge_filter.recipient_emails is None and badge_filter.recipient_emails_all is None:
            return None
        with self._lists_lock:
            cached = self._email_indexes.get(org_id)
        if cached is None or cached[0] != version:
            with self.data.lock:
                index = build_email_index(self.data.org_badges(org_id), self.data.users)
            cached = (version, index)
            with self._lists_lock:
                self._email_indexes[org_id] = cached
        return narrow_by_email(cached[1], badge_filter)


@dataclass(frozen=True)
class _CachedList:
    version: int
    badges: list[IssuedBadge]


def _unauthorized(message: str) -> HttpError:
    return HttpError(401, message, "Unauthorized", {"WWW-Authenticate": 'Basic realm="Credly"'})


def _oauth_fields(request: Request) -> dict[str, str]:
    """The token request's parameters from a JSON or form-encoded body."""
    content_type = (request.header("Content-Type") or "").lower()
    if "json" in content_type:
        try:
            payload = request.json()
        except HttpError as exc:
            raise HttpError(400, exc.message, "invalid_request") from None
        if not isinstance(payload, dict) or not all(isinstance(v, str) for v in payload.values()):
            raise HttpError(400, "the JSON body must be an object of strings", "invalid_request")
        return dict(payload)
    try:
        form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HttpError(400, "the form body is not UTF-8", "invalid_request") from None
    repeated = sorted(k for k, v in form.items() if len(v) > 1)
    if repeated:
        raise HttpError(400, f"parameters given more than once: {repeated}", "invalid_request")
    return {k: v[0] for k, v in form.items()}


def _client_credentials(request: Request, fields: dict[str, str]) -> tuple[str, str]:
    """client_id and client_secret from the body, or from HTTP Basic (client_secret_basic)."""
    header = request.header("Authorization") or ""
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "basic" and "client_id" not in fields:
        try:
            decoded = base64.b64decode(credential.strip(), validate=True).decode("utf-8")
        except ValueError:
            raise HttpError(401, "malformed Basic credentials", "invalid_client") from None
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    return fields.get("client_id", ""), fields.get("client_secret", "")
