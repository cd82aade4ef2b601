"""How the rules refuse: `HttpError`s in Graph's codes, and the checks all request bodies share.

A rule returns its refusals (first problem first) rather than raising them, so a body's problems
can be listed and tested as plain values; a handler raises the first with `refuse`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from typing import Any

from devstack.standin import HttpError

INVALID_REQUEST = "InvalidRequest"
BAD_REQUEST = "BadRequest"
UPDATE_NOT_ALLOWED = "UpdateNotAllowed"

Problem = HttpError
"""Why the service refuses a request: its `status`, OData error `code` and `message`."""

_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9]+$")


def invalid(message: str) -> Problem:
    """A 400 `InvalidRequest`: the body is well formed but breaks a service rule."""
    return HttpError(400, message, INVALID_REQUEST)


def bad_request(message: str) -> Problem:
    """A 400 `BadRequest`: the request does not parse as the type it claims to be."""
    return HttpError(400, message, BAD_REQUEST)


def not_found(message: str) -> HttpError:
    """A 404 `NotFound`, `message` saying what does not exist."""
    return HttpError(404, message, "NotFound")


def conflict(message: str) -> HttpError:
    """A 409 `Conflict`, `message` saying what already exists or is under way."""
    return HttpError(409, message, "Conflict")


def refuse(problems: Iterable[Problem | None]) -> None:
    """Raise the first problem; return when there is none."""
    for problem in problems:
        if problem is not None:
            raise problem


def unknown_fields(body: Mapping[str, Any], allowed: Set[str], type_name: str) -> list[Problem]:
    """One problem per field of `body` that `type_name` does not have (annotations pass)."""
    return [
        bad_request(f"The property '{key}' does not exist on type '{type_name}'.")
        for key in body
        if "@" not in key and key not in allowed
    ]


def require_object(body: Any, what: str) -> Problem | None:
    """The problem with a body that is not a JSON object, or None when it is one."""
    if isinstance(body, dict):
        return None
    return bad_request(f"The request body must be a JSON object ({what}).")


def names(text: str) -> frozenset[str]:
    """The whitespace-separated names of `text` (how the long enum tables are written)."""
    return frozenset(text.split())


def is_alphanumeric(name: str) -> bool:
    """Whether a name uses only ASCII letters and digits (ids and property names must)."""
    return _ALPHANUMERIC.match(name) is not None
