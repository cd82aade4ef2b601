"""Entra's client-credentials token endpoint: request checks, refusals in Entra's shape, answer."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devstack.graph.app_registrations import GRAPH_APP_ID, GRAPH_RESOURCE, App


@dataclass(frozen=True, slots=True)
class TokenRefusal:
    """An Entra token-endpoint error: its HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


def answer_token_request(
    tenant_id: str,
    tenant: str,
    form: Mapping[str, str],
    *,
    find_app: Callable[[str], App | None],
    issue: Callable[[App], str],
    lifetime_s: float,
) -> dict[str, Any] | TokenRefusal:
    """Answer a client-credentials token request (the form fields of the POST).

    Args:
        tenant_id: The stand-in's tenant id.
        tenant: The tenant the request's path names.
        form: The POST's form fields.
        find_app: The registered app with a client id, if any.
        issue: Issues an access token for an app.
        lifetime_s: The new token's lifetime (its `expires_in`).

    Returns:
        The token response, or the refusal Entra would answer with.
    """
    refusal = _check_request(tenant_id, tenant, form)
    if refusal is not None:
        return refusal
    app = find_app(form["client_id"])
    refusal = _check_client(tenant_id, app, form)
    if refusal is not None:
        return refusal
    assert app is not None  # _check_client refuses unknown apps
    lifetime = int(lifetime_s)
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": issue(app),
    }


def _refusal(status: int, error: str, code: int, description: str) -> TokenRefusal:
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


def _check_request(tenant_id: str, tenant: str, form: Mapping[str, str]) -> TokenRefusal | None:
    if tenant.lower() != tenant_id.lower():
        return _refusal(
            400,
            "invalid_request",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
            "and are signing into the correct cloud.",
        )
    for name in ("grant_type", "client_id"):
        if not form.get(name):
            return _refusal(
                400,
                "invalid_request",
                900144,
                f"The request body must contain the following parameter: '{name}'.",
            )
    if form["grant_type"] != "client_credentials":
        return _refusal(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{form['grant_type']}'.",
        )
    return None


def _check_client(tenant_id: str, app: App | None, form: Mapping[str, str]) -> TokenRefusal | None:
    if app is None:
        return _refusal(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{form['client_id']}' was not found in the "
            f"directory '{tenant_id}'. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in "
            "the tenant.",
        )
    secret = form.get("client_secret")
    if not secret:
        return _refusal(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )
    if not secrets.compare_digest(secret.encode(), app.client_secret.encode()):
        return _refusal(
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
        return _refusal(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows "
            "must have a scope value with /.default suffixed to the resource identifier "
            f"(application ID URI), e.g. {GRAPH_RESOURCE}/.default.",
        )
    return None
