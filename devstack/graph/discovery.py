"""The Entra discovery documents that let MSAL / azure-identity use the stand-in as authority."""

from __future__ import annotations

from typing import Any


def openid_configuration(base_url: str, tenant_id: str, tenant: str) -> dict[str, Any] | None:
    """The tenant's OpenID configuration.

    Args:
        base_url: The stand-in's scheme and authority, e.g. ``https://127.0.0.1:8443``.
        tenant_id: The stand-in's tenant id.
        tenant: The tenant the request names.

    Returns:
        The document, or None when `tenant` is another tenant.
    """
    if tenant.lower() != tenant_id.lower():
        return None
    root = f"{base_url}/{tenant_id}"
    return {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "jwks_uri": f"{base_url}/{tenant_id}/discovery/v2.0/keys",
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


def instance_discovery(base_url: str, tenant_id: str) -> dict[str, Any]:
    """The `common/discovery/instance` answer naming the stand-in as its own authority.

    Args:
        base_url: The stand-in's scheme and authority.
        tenant_id: The stand-in's tenant id.

    Returns:
        The document.
    """
    host = base_url.split("://", 1)[-1]
    return {
        "tenant_discovery_endpoint": (
            f"{base_url}/{tenant_id}/v2.0/.well-known/openid-configuration"
        ),
        "api-version": "1.1",
        "metadata": [
            {"preferred_network": host, "preferred_cache": host, "aliases": [host]},
        ],
    }
