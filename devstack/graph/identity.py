"""The Graph stand-in's Entra ID: app registrations, the token endpoint and bearer-token checks.

Apps are registered with a secret and the application permissions (roles) granted to them.
The token endpoint speaks the client-credentials grant and Entra's error shape, and the
discovery documents let MSAL / azure-identity use the stand-in as their authority. Tokens are
JWT-shaped (unsigned) and remembered by the stand-in, which is how it checks them.
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

from devstack.standin import HttpError

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
DEFAULT_TENANT_ID = "5d3c1f0e-8a7b-4c6d-9e2f-1a0b3c4d5e6f"
DEFAULT_CLIENT_ID = "0b9d6a51-3c2e-4f7a-8d1b-6e5f4a3c2b1d"
DEFAULT_CLIENT_SECRET = "standin-client-secret"
DEFAULT_TOKEN_LIFETIME_S = 3599

CONNECTIONS_READ_WRITE = frozenset(
    {"ExternalConnection.ReadWrite.OwnedBy", "ExternalConnection.ReadWrite.All"}
)
ITEMS_READ_WRITE = frozenset({"ExternalItem.ReadWrite.OwnedBy", "ExternalItem.ReadWrite.All"})
PEOPLE_SETTINGS_WRITE = frozenset({"PeopleSettings.ReadWrite.All"})
PEOPLE_SETTINGS_READ = PEOPLE_SETTINGS_WRITE | {"PeopleSettings.Read.All"}
USERS_READ = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
DEFAULT_ROLES = frozenset(
    {
        "ExternalConnection.ReadWrite.OwnedBy",
        "ExternalItem.ReadWrite.OwnedBy",
        "PeopleSettings.ReadWrite.All",
        "User.Read.All",
    }
)
"""The permissions the connector needs, granted to apps registered without explicit roles."""

INVALID_TOKEN = "InvalidAuthenticationToken"
ACCESS_DENIED = "Authorization_RequestDenied"
_CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    f'authorize", client_id="{GRAPH_APP_ID}"'
)


@dataclass(frozen=True, slots=True)
class App:
    """An app registration: client id, secret, and granted application permissions."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    roles: frozenset[str] = DEFAULT_ROLES
    display_name: str = "Credly connector"


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid access token stands for."""

    client_id: str
    roles: frozenset[str]
    expires_at: float


@dataclass(frozen=True, slots=True)
class TokenRefusal:
    """An Entra token-endpoint error: its HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


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

    def _refusal(self, status: int, error: str, code: int, description: str) -> TokenRefusal:
        trace_id = str(uuid.uuid4())
        correlation_id = str(uuid.uuid4())
        timestamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return TokenRefusal(
            status,
            {
                "error": error,
                "error_description": (
                    f"AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: "
                    f"{correlation_id} Timestamp: {timestamp}"
                ),
                "error_codes": [code],
                "timestamp": timestamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"https://login.microsoftonline.com/error?code={code}",
            },
        )

    def token_response(self, tenant: str, form: Mapping[str, str]) -> dict[str, Any] | TokenRefusal:
        """Answer a client-credentials token request (the form fields of the POST)."""
        refusal = self._check_request(tenant, form)
        if refusal is not None:
            return refusal
        app = self.app(form["client_id"])
        refusal = self._check_client(app, form)
        if refusal is not None:
            return refusal
        assert app is not None  # _check_client refuses unknown apps
        lifetime = int(self.token_lifetime_s)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self._issue(app),
        }

    def _check_request(self, tenant: str, form: Mapping[str, str]) -> TokenRefusal | None:
        if tenant.lower() != self.tenant_id.lower():
            return self._refusal(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        for name in ("grant_type", "client_id"):
            if not form.get(name):
                return self._refusal(
                    400,
                    "invalid_request",
                    900144,
                    f"The request body must contain the following parameter: '{name}'.",
                )
        if form["grant_type"] != "client_credentials":
            return self._refusal(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{form['grant_type']}'.",
            )
        return None

    def _check_client(self, app: App | None, form: Mapping[str, str]) -> TokenRefusal | None:
        if app is None:
            return self._refusal(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form['client_id']}' was not found in the "
                f"directory '{self.tenant_id}'. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in "
                "the tenant.",
            )
        secret = form.get("client_secret")
        if not secret:
            return self._refusal(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if not secrets.compare_digest(secret.encode(), app.client_secret.encode()):
            return self._refusal(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        scope = form.get("scope", "")
        if not any(
            s in (f"{GRAPH_RESOURCE}/.default", f"{GRAPH_APP_ID}/.default") for s in scope.split()
        ):
            return self._refusal(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                f"(application ID URI), e.g. {GRAPH_RESOURCE}/.default.",
            )
        return None

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
        if tenant.lower() != self.tenant_id.lower():
            return None
        root = f"{base_url}/{self.tenant_id}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "jwks_uri": f"{base_url}/{self.tenant_id}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{root}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }

    def instance_discovery(self, base_url: str) -> dict[str, Any]:
        """The `common/discovery/instance` answer naming the stand-in as its own authority."""
        host = base_url.split("://", 1)[-1]
        return {
            "tenant_discovery_endpoint": (
                f"{base_url}/{self.tenant_id}/v2.0/.well-known/openid-configuration"
            ),
            "api-version": "1.1",
            "metadata": [
                {"preferred_network": host, "preferred_cache": host, "aliases": [host]},
            ],
        }
