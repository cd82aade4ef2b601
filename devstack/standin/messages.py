"""What a stand-in route sees and answers: requests, responses, routes, and HttpError."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


class HttpError(Exception):
    """Raised by a route handler to answer with the stand-in's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """An error answer; `code` defaults to the status's phrase in CamelCase."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or HTTPStatus(status).phrase.replace(" ", "")
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Request:
    """One parsed request as a route handler sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    base_url: str = ""

    def header(self, name: str) -> str | None:
        """A header's value (case-insensitive name), or None."""
        return self.headers.get(name.lower())

    def arg(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body parsed as JSON; a 400 HttpError when it is not."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise HttpError(400, f"request body is not valid JSON: {exc}", "BadRequest") from exc


@dataclass
class Response:
    """What a route handler answers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        """A JSON response."""
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, json.dumps(payload).encode("utf-8"), all_headers)

    @classmethod
    def empty(cls, status: int, headers: Mapping[str, str] | None = None) -> Response:
        """A response without a body (204, 202 with Location...)."""
        return cls(status, b"", dict(headers or {}))


Handler = Callable[[Request], Response]
ErrorRenderer = Callable[[int, str, str], Any]
"""(status, code, message) -> the JSON error body in the service's envelope."""


@dataclass(frozen=True)
class Route:
    """A route: method, a path regex with named groups, its class for knobs, its handler."""

    method: str
    pattern: re.Pattern[str]
    route_class: str
    handler: Handler


def route(method: str, path: str, route_class: str, handler: Handler) -> Route:
    """Build a Route from a path template whose `{name}` parts match one path segment."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(method.upper(), re.compile(f"^{regex}$"), route_class, handler)
