"""Credly's OAuth token endpoint (`POST /oauth/token` on the web host) and its error shape.

Only the client-credentials grant is served, with `client_id` and `client_secret` in a form
body (client_secret_post), as the connector sends them; the access token it gets is kept by
`AccessControl`, which checks it on API requests.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from devstack.credly.auth import AccessControl
from devstack.credly.records import CredlyData
from devstack.standin import HttpError, Request, Response


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


def issue_access_token(request: Request, data: CredlyData, access: AccessControl) -> Response:
    """Answer a token request: an access token for an OAuth application of `data`.

    Args:
        request: The `POST /oauth/token` request.
        data: The store holding the organisations' OAuth applications.
        access: Issues the grant and later checks it.

    Returns:
        The token response (`access_token`, `expires_in`, `scope`...), never cached.

    Raises:
        HttpError: 400 `invalid_request`, `unsupported_grant_type` or `invalid_scope`, or
            401 `invalid_client`, in the OAuth error shape.
    """
    fields = _token_request_fields(request)
    grant_type = fields.get("grant_type")
    if not grant_type:
        raise HttpError(400, "grant_type is required", "invalid_request")
    if grant_type != "client_credentials":
        raise HttpError(
            400, f"grant type {grant_type!r} is not supported", "unsupported_grant_type"
        )
    client_id, client_secret = fields.get("client_id", ""), fields.get("client_secret", "")
    found = data.find_oauth_app(client_id) if client_id else None
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
    grant = access.grant(org.id, app.client_id, scopes)
    payload = {
        "access_token": grant.token,
        "token_type": "Bearer",
        "expires_in": access.token_lifetime_s,
        "scope": " ".join(scopes),
        "created_at": int(grant.created_at.timestamp()),
    }
    return Response.json(200, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"})


def _token_request_fields(request: Request) -> dict[str, str]:
    """The token request's parameters from its form-encoded body."""
    try:
        form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HttpError(400, "the form body is not UTF-8", "invalid_request") from None
    repeated = sorted(k for k, v in form.items() if len(v) > 1)
    if repeated:
        raise HttpError(400, f"parameters given more than once: {repeated}", "invalid_request")
    return {k: v[0] for k, v in form.items()}


def _snake_case(code: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in code).lstrip("_")
