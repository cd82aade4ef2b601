"""The tenant id the items' `everyone` ACL names: the setting, or the Graph token's `tid`."""

from __future__ import annotations

import base64
import binascii
import json
import uuid

from azure.core.credentials import TokenCredential

from credly_connector.errors import ConfigurationError

TENANT_FIX = (
    "set AZURE_TENANT_ID to the Microsoft 365 tenant's id (a GUID: Entra admin center > "
    "Overview > Tenant ID)."
)


def tenant_of_token(token: str) -> str | None:
    """The `tid` claim of a JWT access token, as a lower-case GUID; None when it has none.

    The token is not verified: Graph verifies it, and the claim only names our own tenant.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
        return str(uuid.UUID(str(claims["tid"])))
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None


def resolve_tenant(configured: str | None, credential: TokenCredential, scope: str) -> str:
    """The tenant id: `configured` (AZURE_TENANT_ID) when set, else the token's `tid` claim.

    Args:
        configured: AZURE_TENANT_ID, or None.
        credential: The Graph credential (a managed identity's token names its tenant).
        scope: The Graph scope to ask a token for.

    Raises:
        ConfigurationError: Neither gives a tenant id.
    """
    if configured:
        return configured
    tenant = tenant_of_token(credential.get_token(scope).token)
    if tenant is None:
        raise ConfigurationError(
            "The tenant id for the items' 'everyone' ACL is unknown: AZURE_TENANT_ID is not "
            "set and the Graph token carries no tid claim.",
            fix=TENANT_FIX,
        )
    return tenant
