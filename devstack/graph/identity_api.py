"""The Entra routes: the client-credentials token endpoint and the discovery documents."""

from __future__ import annotations

from urllib.parse import parse_qsl

from devstack.graph.identity import Identity, TokenRefusal
from devstack.standin import Request, Response


class IdentityApi:
    """Route handlers answering from the tenant's `Identity`.

    Args:
        identity: The app registrations and tokens.
    """

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def token(self, request: Request) -> Response:
        """`POST /{tenant}/oauth2/v2.0/token`: a client-credentials token or Entra's refusal."""
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        answer = self.identity.token_response(request.params["tenant"], form)
        if isinstance(answer, TokenRefusal):
            return Response.json(answer.status, answer.body)
        return Response.json(200, answer, {"Cache-Control": "no-store, no-cache"})

    def openid_configuration(self, request: Request) -> Response:
        """`GET /{tenant}/v2.0/.well-known/openid-configuration` (400 for another tenant)."""
        tenant = request.params["tenant"]
        config = self.identity.openid_configuration(request.base_url, tenant)
        if config is None:
            return Response.json(
                400,
                {
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
                    "error_codes": [90002],
                },
            )
        return Response.json(200, config)

    def instance_discovery(self, request: Request) -> Response:
        """`GET /common/discovery/instance`: the stand-in as its own authority."""
        return Response.json(200, self.identity.instance_discovery(request.base_url))
