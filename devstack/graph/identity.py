"""The Graph stand-in's Entra ID: the tenant's registered apps, the tokens issued to them, checks.

Apps are registered with a secret and the application permissions (roles) granted to them
(`app_registrations`). Tokens are JWT-shaped (unsigned) and remembered by the stand-in, which
is how it checks bearer tokens. `Identity` also answers the Entra endpoints, whose shapes live
in `token_endpoint` (client-credentials grant, Entra's error shape) and `discovery` (the
documents that let MSAL / azure-identity use the stand-in as their authority).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.graph import discovery
from devstack.graph.app_registrations import (
    CONNECTIONS_READ_WRITE,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ROLES,
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    ITEMS_READ_WRITE,
    PEOPLE_SETTINGS_READ,
    PEOPLE_SETTINGS_WRITE,
    USERS_READ,
    App,
)
from devstack.graph.token_endpoint import TokenRefusal, answer_token_request
from devstack.standin import HttpError

# The app registration names are re-exported: callers import them from here.
__all__ = [
    "ACCESS_DENIED",
    "CONNECTIONS_READ_WRITE",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_ROLES",
    "DEFAULT_TENANT_ID",
    "DEFAULT_TOKEN_LIFETIME_S",
    "GRAPH_APP_ID",
    "GRAPH_RESOURCE",
    "INVALID_TOKEN",
    "ITEMS_READ_WRITE",
    "PEOPLE_SETTINGS_READ",
    "PEOPLE_SETTINGS_WRITE",
    "USERS_READ",
    "App",
    "Grant",
    "Identity",
    "TokenRefusal",
]

DEFAULT_TENANT_ID = "5d3c1f0e-8a7b-4c6d-9e2f-1a0b3c4d5e6f"
DEFAULT_TOKEN_LIFETIME_S = 3599

INVALID_TOKEN = "InvalidAuthenticationToken"
ACCESS_DENIED = "Authorization_RequestDenied"
_CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    f'authorize", client_id="{GRAPH_APP_ID}"'
)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid access token stands for."""

    client_id: str
    roles: frozenset[str]
    expires_at: float


def _b64(data: Mapping[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Identity:
    """The tenant's app registrations and the access tokens issued to them.

    Args:
        tenant_id: The tenant GUID; the token endpoint answers only for it.
        apps: The registered apps (default: one `App()` with the connector's permissions).
        clock: Seconds on a monotonic clock; token expiry is measured on it.
        token_lifetime_s: Lifetime of new tokens (also their `expires_in`).
    """

    def __init__(
        self,
        tenant_id: str = DEFAULT_TENANT_ID,
        apps: Iterable[App] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
    ) -> None:
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

    def app(self, client_id: str) -> App | None:
        """A registered app by client id."""
        with self._lock:
            return self._apps.get(client_id.lower())

    def apps(self) -> list[App]:
        """The registered apps: the default app (`DEFAULT_CLIENT_ID`) first, then the rest."""
        with self._lock:
            registered = list(self._apps.values())
        return sorted(
            registered, key=lambda app: app.client_id.lower() != DEFAULT_CLIENT_ID.lower()
        )

    def mint_token(self, client_id: str = DEFAULT_CLIENT_ID) -> str:
        """Issue a token for a registered app without the HTTP round trip (for tests)."""
        app = self.app(client_id)
        if app is None:
            raise KeyError(client_id)
        return self._issue(app)

    def revoke_all(self) -> None:
        """Make every token issued so far invalid (401 on next use)."""
        with self._lock:
            self._tokens.clear()

    def _issue(self, app: App) -> str:
        now = self.clock()
        wall = int(time.time())
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

    def token_response(self, tenant: str, form: Mapping[str, str]) -> dict[str, Any] | TokenRefusal:
        """Answer a client-credentials token request (the form fields of the POST)."""
        return answer_token_request(
            self.tenant_id,
            tenant,
            form,
            find_app=self.app,
            issue=self._issue,
            lifetime_s=self.token_lifetime_s,
        )

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

    # -- discovery documents ---------------------------------------------------------------

    def openid_configuration(self, base_url: str, tenant: str) -> dict[str, Any] | None:
        """The tenant's OpenID configuration (None for an unknown tenant)."""
        return discovery.openid_configuration(base_url, self.tenant_id, tenant)

    def instance_discovery(self, base_url: str) -> dict[str, Any]:
        """The `common/discovery/instance` answer naming the stand-in as its own authority."""
        return discovery.instance_discovery(base_url, self.tenant_id)
