"""Graph's OData conventions on the wire: service roots, `@odata.context`, the error envelope.

Every Graph answer names its service root (`<base>/v1.0` or `<base>/beta`, whichever the
request used) and, for entities and collections, an `@odata.context` URL under it. Refusals
leave the handlers as `HttpError`s, which the server renders in Graph's OData error envelope.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from devstack.standin import Request, Response


def service_root(request: Request) -> str:
    """The Graph root the request addressed: `<base_url>/v1.0` or `<base_url>/beta`."""
    return f"{request.base_url}/{request.params['version']}"


def context_url(request: Request, fragment: str) -> str:
    """The `@odata.context` URL of `fragment` (e.g. `external/connections/$entity`)."""
    return f"{service_root(request)}/$metadata#{fragment}"


def entity_response(
    status: int, request: Request, fragment: str, entity: Mapping[str, Any]
) -> Response:
    """An entity with its `@odata.context`."""
    return Response.json(status, {"@odata.context": context_url(request, fragment), **entity})


def collection_response(request: Request, fragment: str, values: list[Any]) -> Response:
    """A 200 collection (`value`) with its `@odata.context`."""
    return Response.json(200, {"@odata.context": context_url(request, fragment), "value": values})


def render_error(status: int, code: str, message: str) -> dict[str, Any]:
    """Graph's OData error envelope (it does not repeat the status)."""
    del status
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }
