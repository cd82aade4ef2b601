"""`Problem`, the typed refusal every rule returns, and the checks all request bodies share."""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

INVALID_REQUEST = "InvalidRequest"
BAD_REQUEST = "BadRequest"
UPDATE_NOT_ALLOWED = "UpdateNotAllowed"

_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9]+$")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the service refuses a request: the status and OData error code it answers with."""

    status: int
    code: str
    message: str


def invalid(message: str) -> Problem:
    """A 400 `InvalidRequest`: the body is well formed but breaks a service rule."""
    return Problem(400, INVALID_REQUEST, message)


def bad_request(message: str) -> Problem:
    """A 400 `BadRequest`: the request does not parse as the type it claims to be."""
    return Problem(400, BAD_REQUEST, message)


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
