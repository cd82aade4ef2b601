"""Which credential authenticates the Graph client: fixed token, app secret or managed identity.

The credentials are azure-identity's synchronous ones on purpose. kiota's token provider takes
sync and async credentials alike, and a sync credential is bound to no event loop: the
composition root builds it once, every `asyncio.run` batch reuses it, and its token cache saves
a token request per batch. It blocks the loop only while it fetches a token (about hourly).
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.identity import ClientSecretCredential, ManagedIdentityCredential

from credly_connector.errors import ConfigurationError

FIXED_TOKEN_LIFETIME_S = 10 * 365 * 24 * 3600
"""How far in the future a fixed token claims to expire (it is never refreshed anyway)."""


class FixedTokenCredential:
    """A `TokenCredential` that always returns one bearer token (local stand-ins only)."""

    def __init__(self, token: str, *, expires_on: int | None = None) -> None:
        """Hold one token.

        Args:
            token: The access token to send.
            expires_on: Unix time the token claims to expire (default: years from now).
        """
        if not token:
            raise ValueError("token must not be empty")
        self._token = token
        self._expires_on = expires_on or int(time.time()) + FIXED_TOKEN_LIFETIME_S

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """The fixed token, whatever the scopes and claims."""
        del scopes, claims, tenant_id, enable_cae, kwargs
        return AccessToken(self._token, self._expires_on)

    def close(self) -> None:
        """Nothing to release; present because credentials are closed by their owner."""

    def __repr__(self) -> str:
        """The class without its token."""
        return "FixedTokenCredential(token=<hidden>)"


def graph_credential(
    *,
    access_token: str | None,
    tenant_id: str | None,
    client_id: str | None,
    client_secret: str | None,
    authority: str | None = None,
    verify: str | None = None,
) -> TokenCredential:
    """The credential for Graph, chosen from plain setting values.

    In order: a fixed `access_token` (stand-ins only); an app secret when tenant id, client id
    and secret are all given; otherwise the managed identity (user-assigned when `client_id`
    is given). The caller owns the credential and closes it.

    Args:
        access_token: `GRAPH_ACCESS_TOKEN`, a bearer token sent as is.
        tenant_id: `AZURE_TENANT_ID`.
        client_id: `AZURE_CLIENT_ID` (the app, or the user-assigned managed identity).
        client_secret: `AZURE_CLIENT_SECRET`.
        authority: The token authority host (`host:port`) instead of Entra's, e.g. the stand-in.
        verify: A CA bundle file the token endpoint's certificate must chain to.

    Raises:
        ConfigurationError: A secret is given without the tenant or client id.
    """
    if access_token:
        return FixedTokenCredential(access_token)
    if client_secret:
        if not tenant_id or not client_id:
            named = (("AZURE_TENANT_ID", tenant_id), ("AZURE_CLIENT_ID", client_id))
            missing = [name for name, value in named if not value]
            raise ConfigurationError(
                f"AZURE_CLIENT_SECRET is set but {' and '.join(missing)} is not.",
                fix="set the app registration's tenant and client id, or remove the secret "
                "to use the managed identity.",
            )
        options: dict[str, Any] = {}
        if authority is not None:
            # MSAL would otherwise validate a custom authority with Entra's instance discovery.
            options.update(authority=authority, disable_instance_discovery=True)
        if verify is not None:
            options["connection_verify"] = verify
        return ClientSecretCredential(tenant_id, client_id, client_secret, **options)
    return ManagedIdentityCredential(client_id=client_id or None)
