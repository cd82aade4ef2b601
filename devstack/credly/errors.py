"""The Credly API stand-in's error answers: the error envelope, 404s and refused queries.

Route handlers raise `HttpError`s; the server renders them with `render_api_error`. The pure
query modules raise `QueryError` instead, which the list routes answer with 422.
"""

from __future__ import annotations

from typing import Any

from devstack.standin import HttpError


class QueryError(ValueError):
    """A `filter`, `sort` or `page` value the API refuses (answered with 422)."""


def render_api_error(status: int, code: str, message: str) -> dict[str, Any]:
    """Credly's error envelope: `{"data": {"message": ...}, "metadata": {}}`."""
    return {"data": {"message": message}, "metadata": {}}


def not_found(kind: str, identifier: str) -> HttpError:
    """The 404 for an unknown organisation, badge or event of the request path.

    Args:
        kind: What was looked up, e.g. "badge".
        identifier: The id the path carried.
    """
    return HttpError(404, f"{kind} {identifier} not found", "NotFound")
