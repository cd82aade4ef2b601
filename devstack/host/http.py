"""The Functions host's HTTP side as a loopback server: routes, function keys, request/response.

`serve_functions` reads each HTTP function's route, methods and auth level from the app's
bindings, checks the function key (`?code=` or `x-functions-key`) as the host does, builds an
`azure.functions.HttpRequest` and answers with the function's `HttpResponse`. It runs in the
host instance that imported the app (see `devstack.host.instance`).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Collection, Iterable
from typing import Any
from urllib.parse import urlencode

from devstack.host.functions import HttpFunction, function_table
from devstack.standin import HttpError, Request, Response, Route, StandInServer

log = logging.getLogger("devstack.host")
ROUTE_PREFIX = "api"


def http_functions(functions: Iterable[Any]) -> list[HttpFunction]:
    """The HTTP functions among an app's indexed functions (`app.get_functions()`)."""
    return list(function_table(functions).http)


def route_pattern(route: str) -> re.Pattern[str]:
    """The path regex of a route template; `{name}` and `{name:constraint}` match a segment.

    Raises:
        ValueError: For optional (`{name?}`) or catch-all (`{*name}`) parameters.
    """
    if "?}" in route or "{*" in route:
        raise ValueError(f"route {route!r}: optional and catch-all parameters are not supported")
    regex, position = "", 0
    for found in re.finditer(r"\{(\w+)(?::[^}]*)?\}", route):
        regex += re.escape(route[position : found.start()]) + f"(?P<{found.group(1)}>[^/]+)"
        position = found.end()
    return re.compile(f"^/{ROUTE_PREFIX}/{regex}{re.escape(route[position:])}$")


def key_accepted(presented: str | None, keys: Collection[str]) -> bool:
    """Whether `presented` equals one of `keys` (compared in constant time)."""
    if not presented:
        return False
    return any(hmac.compare_digest(presented.encode(), key.encode()) for key in keys)


def serve_functions(
    functions: Iterable[HttpFunction], *, keys: Collection[str], port: int = 0
) -> StandInServer:
    """A (not yet started) loopback server answering the given HTTP functions below `/api/`.

    `FUNCTION`-level functions accept one of `keys`; `ADMIN`-level ones need the master key,
    which this host has not, so they always answer 401.
    """
    routes = []
    for function in functions:
        handler = _invoker(function, tuple(keys))
        pattern = route_pattern(function.route)
        routes += [Route(method, pattern, function.name, handler) for method in function.methods]
    return StandInServer(
        "functions-host",
        routes,
        lambda status, code, message: {"error": {"code": code, "message": message}},
        port=port,
    )


def _invoker(function: HttpFunction, keys: tuple[str, ...]) -> Callable[[Request], Response]:
    accepted = {"ANONYMOUS": None, "FUNCTION": keys, "ADMIN": ()}[function.auth_level]

    def invoke(request: Request) -> Response:
        presented = request.arg("code") or request.header("x-functions-key")
        if accepted is not None and not key_accepted(presented, accepted):
            raise HttpError(401, "a valid function key is required (?code= or x-functions-key)")
        import azure.functions as func  # noqa: PLC0415 - only the child process needs it

        query = urlencode(request.query, doseq=True)
        http_request = func.HttpRequest(
            request.method,
            f"{request.base_url}{request.path}" + (f"?{query}" if query else ""),
            headers=request.headers,
            params={name: values[0] for name, values in request.query.items() if values},
            route_params=request.params,
            body=request.body,
        )
        try:
            answer = function.handler(**{function.argument: http_request})
        except Exception as error:  # as the host: one line logged, 500 with no body
            log.error("%s failed: %s: %s", function.name, type(error).__name__, error)
            return Response(500, b"", {})
        headers = {str(k): str(v) for k, v in answer.headers.items()}
        if answer.mimetype:
            charset = f"; charset={answer.charset}" if answer.charset else ""
            headers["Content-Type"] = f"{answer.mimetype}{charset}"
        return Response(int(answer.status_code), answer.get_body(), headers)

    return invoke
