"""Who a Credly API request is and what it may read: credentials, access grants and scopes.

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

Access tokens come from Credly's OAuth token endpoint (`POST /oauth/token` on the web host),
which answers errors in the OAuth 2.0 shape.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from devstack.credly.errors import not_found
from devstack.credly.records import AuthToken, CredlyData, Organization
from devstack.standin import HttpError, Request, Response

DEFAULT_TOKEN_LIFETIME_S = 7200
BADGE_SCOPE = "issued_badges"
EVENTS_SCOPE = "events"
TOKENS_SCOPE = "authorization_tokens"


@dataclass(frozen=True)
class AccessGrant:
    """An access token issued by the OAuth endpoint."""

    token: str
    org_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Caller:
    """Who a request authenticated as: an authorization token or an OAuth access grant."""

    org_id: str
    token: AuthToken | None = None
    grant: AccessGrant | None = None


class AccessControl:
    """Authenticates and authorizes API requests and keeps the OAuth access grants.

    Attributes:
        data: The store whose authorization tokens and organisations are checked.
        clock: Returns "now" as an aware UTC datetime; both authorization-token and
            access-token expiry read it (the real clock when None is given).
        token_lifetime_s: Lifetime of newly issued access tokens.
    """

    def __init__(self, data: CredlyData, *, clock: Callable[[], datetime] | None = None) -> None:
        """Check credentials against `data`, with no access token issued yet."""
        self.data = data
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.token_lifetime_s = DEFAULT_TOKEN_LIFETIME_S
        self._grants: dict[str, AccessGrant] = {}
        self._grants_lock = threading.Lock()

    def grant(self, org_id: str, scopes: tuple[str, ...]) -> AccessGrant:
        """Issue a new access token valid for `token_lifetime_s` from now."""
        now = self.clock()
        grant = AccessGrant(
            token=secrets.token_urlsafe(32),
            org_id=org_id,
            scopes=scopes,
            created_at=now,
            expires_at=now + timedelta(seconds=self.token_lifetime_s),
        )
        with self._grants_lock:
            self._grants[grant.token] = grant
        return grant

    def grants(self) -> list[AccessGrant]:
        """The access tokens issued and not revoked (expired ones included)."""
        with self._grants_lock:
            return list(self._grants.values())

    def expire_all(self) -> int:
        """Make every issued access token expire now (kept, so it answers "expired").

        Returns:
            How many access tokens there were.
        """
        now = self.clock()
        with self._grants_lock:
            for token, grant in self._grants.items():
                self._grants[token] = replace(grant, expires_at=min(grant.expires_at, now))
            return len(self._grants)

    def revoke_all(self) -> int:
        """Revoke every issued access token at once; returns how many there were."""
        with self._grants_lock:
            count = len(self._grants)
            self._grants.clear()
            return count

    def authenticate(self, request: Request) -> Caller:
        """Who the request's credential belongs to.

        Raises:
            HttpError: 401 for a missing, malformed, unknown, expired or revoked credential.
        """
        scheme, _, credential = (request.header("Authorization") or "").partition(" ")
        scheme, credential = scheme.lower(), credential.strip()
        if scheme == "basic" and credential:
            return self._basic_caller(credential)
        if scheme == "bearer" and credential:
            return self._bearer_caller(credential)
        raise _unauthorized("authentication required: HTTP Basic token or Bearer access token")

    def authorize(self, request: Request, scope: str | None) -> tuple[Caller, Organization]:
        """Authenticate (401), find the path's organisation (404), check access (403).

        Args:
            request: A request whose path names the organisation (`params["org"]`).
            scope: The access-token scope the route needs; None when any credential will do.

        Returns:
            The caller and the organisation it may read.
        """
        caller = self.authenticate(request)
        org = self.data.orgs.get(request.params["org"])
        if org is None:
            raise not_found("organization", request.params["org"])
        if caller.org_id != org.id:
            raise HttpError(403, "credential does not grant access to this organization")
        if caller.token is not None and not caller.token.read_enabled:
            raise HttpError(403, "authorization token is not read-enabled")
        if caller.grant is not None and scope is not None and scope not in caller.grant.scopes:
            raise HttpError(403, f"access token lacks the {scope!r} scope")
        return caller, org

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


def _unauthorized(message: str) -> HttpError:
    return HttpError(401, message, "Unauthorized", {"WWW-Authenticate": 'Basic realm="Credly"'})


def render_oauth_error(status: int, code: str, message: str) -> dict[str, str]:
    """The OAuth 2.0 error shape; the base server's own (CamelCase) codes become OAuth's."""
    if not code.islower():
        code = "invalid_request" if status < 500 else "server_error"
        code = "temporarily_unavailable" if status == 503 else code
    return {"error": code, "error_description": message}


def issue_access_token(request: Request, access: AccessControl) -> Response:
    """Answer `POST /oauth/token`: an access token for an OAuth application of `access.data`.

    Only the client-credentials grant is served, with `client_id` and `client_secret` in a
    form body (client_secret_post), as the connector sends them.

    Args:
        request: The token request.
        access: Finds the application, issues the grant and later checks it.

    Returns:
        The token response (`access_token`, `expires_in`, `scope`...), never cached.

    Raises:
        HttpError: 400 `invalid_request`, `unsupported_grant_type` or `invalid_scope`, or
            401 `invalid_client`, in the OAuth error shape.
    """
    form = parse_qs(request.body.decode("utf-8", errors="replace"), keep_blank_values=True)
    fields = {key: values[0] for key, values in form.items()}
    grant_type = fields.get("grant_type")
    if not grant_type:
        raise HttpError(400, "grant_type is required", "invalid_request")
    if grant_type != "client_credentials":
        raise HttpError(
            400, f"grant type {grant_type!r} is not supported", "unsupported_grant_type"
        )
    client_id, client_secret = fields.get("client_id", ""), fields.get("client_secret", "")
    found = access.data.find_oauth_app(client_id) if client_id else None
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
    grant = access.grant(org.id, scopes)
    payload = {
        "access_token": grant.token,
        "token_type": "Bearer",
        "expires_in": access.token_lifetime_s,
        "scope": " ".join(scopes),
        "created_at": int(grant.created_at.timestamp()),
    }
    return Response.json(200, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"})
