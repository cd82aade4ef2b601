"""The Graph stand-in's Entra ID: registered apps, the tokens issued to them, and their checks.

Apps are registered with a secret and the application permissions (roles) granted to them
(`app_registrations`). Tokens are JWT-shaped (unsigned) and remembered by the stand-in, which
is how it checks bearer tokens. `Identity` also answers Entra's routes: the client-credentials
token endpoint (refusals in Entra's shape) and the OpenID configuration that lets MSAL /
azure-identity use the stand-in as their authority.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from devstack.graph.app_registrations import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    App,
)
from devstack.standin import HttpError, Request, Response

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "App"]  # tests import them from here

DEFAULT_TENANT_ID = "5d3c1f0e-8a7b-4c6d-9e2f-1a0b3c4d5e6f"
DEFAULT_TOKEN_LIFETIME_S = 3599
INVALID_TOKEN = "InvalidAuthenticationToken"
ACCESS_DENIED = "Authorization_RequestDenied"
_CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    f'authorize", client_id="{GRAPH_APP_ID}"'
)
_SCOPES = {f"{GRAPH_RESOURCE}/.default", f"{GRAPH_APP_ID}/.default"}


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid access token stands for."""

    client_id: str
    roles: frozenset[str]
    expires_at: float


class TokenRefusalError(Exception):
    """An Entra token-endpoint error: its HTTP status, AADSTS code and description."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        """Refuse with `status`, the OAuth `error`, the AADSTS `code` and its `description`."""
        super().__init__(description)
        self.status, self.error, self.code = status, error, code

    def response(self) -> Response:
        """The refusal in Entra's JSON shape."""
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        timestamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        description = (
            f"AADSTS{self.code}: {self} Trace ID: {trace_id} Correlation ID: {correlation_id} "
            f"Timestamp: {timestamp}"
        )
        body = {
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }
        return Response.json(self.status, body)


def _b64(data: Mapping[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Identity:
    """The tenant's app registrations and the access tokens issued to them."""

    def __init__(
        self,
        tenant_id: str = DEFAULT_TENANT_ID,
        apps: Iterable[App] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
    ) -> None:
        """Register `apps` in `tenant_id`.

        Args:
            tenant_id: The tenant GUID; the token endpoint answers only for it.
            apps: The registered apps (default: one `App()` with the connector's permissions).
            clock: Seconds on a monotonic clock; token expiry is measured on it.
            token_lifetime_s: Lifetime of new tokens (also their `expires_in`).
        """
        self.tenant_id = tenant_id
        self.clock = clock
        self.token_lifetime_s = token_lifetime_s
        self._lock = threading.Lock()
        self._apps: dict[str, App] = {}
        self._tokens: dict[str, Grant] = {}
        for app in [App()] if apps is None else apps:
            self.register_app(app)

    # -- registrations and tokens ----------------------------------------------------------

    def register_app(self, app: App) -> App:
        """Register (or replace) an app."""
        with self._lock:
            self._apps[app.client_id.lower()] = app
        return app

    def apps(self) -> list[App]:
        """The registered apps: the default app (`DEFAULT_CLIENT_ID`) first, then the rest."""
        with self._lock:
            registered = list(self._apps.values())
        return sorted(registered, key=lambda a: a.client_id.lower() != DEFAULT_CLIENT_ID.lower())

    def mint_token(self, client_id: str = DEFAULT_CLIENT_ID) -> str:
        """Issue a token for a registered app without the HTTP round trip (for tests)."""
        with self._lock:
            app = self._apps[client_id.lower()]
        return self._issue(app)

    def _issue(self, app: App) -> str:
        now, wall = self.clock(), int(time.time())
        claims = {
            "aud": GRAPH_RESOURCE,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": wall,
            "nbf": wall,
            "exp": wall + int(self.token_lifetime_s),
            "appid": app.client_id,
            "app_displayname": app.display_name,
            "idtyp": "app",
            "roles": sorted(app.roles),
            "tid": self.tenant_id,
            "uti": secrets.token_urlsafe(16),
        }
        header = {"typ": "JWT", "alg": "RS256", "kid": "standin"}
        token = f"{_b64(header)}.{_b64(claims)}.{secrets.token_urlsafe(32)}"
        with self._lock:
            if len(self._tokens) > 10_000:
                self._tokens = {t: g for t, g in self._tokens.items() if g.expires_at > now}
            self._tokens[token] = Grant(app.client_id, app.roles, now + self.token_lifetime_s)
        return token

    # -- bearer checks ---------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Grant:
        """The grant behind an `Authorization: Bearer` header; 401 HttpError when invalid."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if not token or scheme.lower() != "bearer":
            raise self._unauthorized("Access token is empty.")
        with self._lock:
            grant = self._tokens.get(token)
        if grant is None:
            if token.count(".") != 2:
                raise self._unauthorized("IDX14100: JWT is not well formed, there are no dots (.).")
            raise self._unauthorized("Access token validation failure. Invalid audience.")
        if self.clock() >= grant.expires_at:
            raise self._unauthorized("Lifetime validation failed, the token is expired.")
        return grant

    def authorize(self, authorization: str | None, permissions: frozenset[str]) -> Grant:
        """Authenticate, then require one of `permissions` among the token's roles (403)."""
        grant = self.authenticate(authorization)
        if not grant.roles & permissions:
            raise HttpError(
                403,
                "Insufficient privileges to complete the operation. The app needs one of: "
                + ", ".join(sorted(permissions)),
                ACCESS_DENIED,
            )
        return grant

    @staticmethod
    def _unauthorized(message: str) -> HttpError:
        return HttpError(401, message, INVALID_TOKEN, {"WWW-Authenticate": _CHALLENGE})

    # -- Entra routes ----------------------------------------------------------------------

    def token_route(self, request: Request) -> Response:
        """`POST /{tenant}/oauth2/v2.0/token`: a client-credentials token or Entra's refusal."""
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            app = self._check_token_request(request.params["tenant"], form)
        except TokenRefusalError as refusal:
            return refusal.response()
        lifetime = int(self.token_lifetime_s)
        answer = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self._issue(app),
        }
        return Response.json(200, answer, {"Cache-Control": "no-store, no-cache"})

    def _check_token_request(self, tenant: str, form: Mapping[str, str]) -> App:
        """The app a client-credentials request authenticates, or the refusal Entra answers."""
        if tenant.lower() != self.tenant_id.lower():
            raise TokenRefusalError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        for name in ("grant_type", "client_id"):
            if not form.get(name):
                message = f"The request body must contain the following parameter: '{name}'."
                raise TokenRefusalError(400, "invalid_request", 900144, message)
        if (grant := form["grant_type"]) != "client_credentials":
            message = f"The app requested an unsupported grant type '{grant}'."
            raise TokenRefusalError(400, "unsupported_grant_type", 70003, message)
        with self._lock:
            app = self._apps.get(form["client_id"].lower())
        if app is None:
            message = (
                f"Application with identifier '{form['client_id']}' was not found in the "
                f"directory '{self.tenant_id}'."
            )
            raise TokenRefusalError(400, "unauthorized_client", 700016, message)
        if not (secret := form.get("client_secret")):
            message = "The request body must contain the following parameter: 'client_secret'."
            raise TokenRefusalError(401, "invalid_client", 7000218, message)
        if not secrets.compare_digest(secret.encode(), app.client_secret.encode()):
            message = f"Invalid client secret provided for app '{app.client_id}'."
            raise TokenRefusalError(401, "invalid_client", 7000215, message)
        scope = form.get("scope", "")
        if not _SCOPES & set(scope.split()):
            message = (
                f"The provided value for scope {scope} is not valid. Client credential flows "
                f"must have a scope value with /.default suffixed, e.g. {GRAPH_RESOURCE}/.default."
            )
            raise TokenRefusalError(400, "invalid_scope", 1002012, message)
        return app

    def openid_configuration_route(self, request: Request) -> Response:
        """`GET /{tenant}/v2.0/.well-known/openid-configuration` (400 for another tenant)."""
        tenant = request.params["tenant"]
        if tenant.lower() != self.tenant_id.lower():
            refusal = TokenRefusalError(
                400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found."
            )
            return refusal.response()
        root = f"{request.base_url}/{self.tenant_id}"
        config = {  # what MSAL reads; Entra's document has more
            "issuer": f"{root}/v2.0",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        }
        return Response.json(200, config)
