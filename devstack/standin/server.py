"""The loopback HTTP server both stand-ins are built on: routing, knobs, request log, TLS.

A stand-in declares its routes (method, path pattern, route class, handler) and the shape of
its error envelope; this module serves them on 127.0.0.1 in a background thread, applies the
knobs (latency, rate limits, scripted faults) and records every request for tests to read.
A control API under `/_standin/` lets another process turn the same knobs.
"""

from __future__ import annotations

import contextlib
import math
import socket
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from devstack.lifecycle import Service
from devstack.standin.control import CONTROL_PREFIX, control_response
from devstack.standin.knobs import Fault, FaultKind, Knobs
from devstack.standin.messages import ErrorRenderer, HttpError, Request, Response, Route
from devstack.standin.request_log import RequestLog
from devstack.standin.tls import TlsIdentity
from devstack.standin.wire import LoopbackHTTPServer, StandInRequestHandler

LOOPBACK = "127.0.0.1"


class StandInServer(Service):
    """A stand-in HTTP service on loopback, served from a background thread.

    Subclasses pass their routes and error renderer. Use as a context manager, or call
    `start()` and `stop()`; `stop()` also releases hanging requests and closes kept-alive
    connections, so no thread outlives the server for long.
    """

    def __init__(
        self,
        name: str,
        routes: list[Route],
        render_error: ErrorRenderer,
        *,
        knobs: Knobs | None = None,
        port: int = 0,
        tls: TlsIdentity | None = None,
        request_log: RequestLog | None = None,
    ) -> None:
        """Prepare the server; `start()` serves it."""
        self.name = name
        self.routes = routes
        self.render_error = render_error
        self.knobs = knobs or Knobs()
        self.tls = tls
        self.requests = request_log or RequestLog()
        self.internal_errors: list[str] = []
        self._port = port
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[Any] = set()
        self._conn_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http(s)://127.0.0.1:<port>` of the running server."""
        if self._server is None:
            raise RuntimeError(f"{self.name} stand-in is not running")
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        """The bound port of the running server."""
        if self._server is None:
            raise RuntimeError(f"{self.name} stand-in is not running")
        return int(self._server.server_address[1])

    def start(self) -> Self:
        """Bind 127.0.0.1 (a free port unless one was given) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = LoopbackHTTPServer((LOOPBACK, self._port), StandInRequestHandler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hanging handlers and close every open connection."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def track(self, conn: Any) -> None:
        """Remember an open connection so stop() can close it."""
        with self._conn_lock:
            self._connections.add(conn)

    def untrack(self, conn: Any) -> None:
        """Forget a closed connection."""
        with self._conn_lock:
            self._connections.discard(conn)

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when it stopped."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()

    # -- request handling ------------------------------------------------------------------

    def error_response(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> Response:
        """An error in this service's envelope."""
        return Response.json(status, self.render_error(status, code, message), headers)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """The route for a request, its path parameters, and whether the path exists at all."""
        path_known = False
        for candidate in self.routes:
            found = candidate.pattern.match(path)
            if found is None:
                continue
            path_known = True
            if candidate.method == method:
                return candidate, found.groupdict(), True
        return None, {}, path_known

    def serve(self, handler: StandInRequestHandler) -> None:
        """Serve one request: control API, routing, knobs, handler, log."""
        started = time.monotonic()
        method = handler.command
        split = urlsplit(handler.path)
        path = unquote(split.path)
        if path.startswith(CONTROL_PREFIX):
            control_body = handler.read_body() or b""
            sub_path = path[len(CONTROL_PREFIX) :]
            handler.send(
                control_response(self.knobs, self.requests, method, sub_path, control_body)
            )
            return

        body = handler.read_body()
        matched, params, path_known = self.match(method, path)
        route_class = matched.route_class if matched else "unrouted"

        def log(status: int, outcome: str) -> None:
            # Logged before the answer is sent, so a client that reads the log right after
            # its response always finds its request there.
            self.requests.record(
                at=started,
                method=method,
                path=path,
                query=split.query,
                route_class=route_class,
                status=status,
                outcome=outcome,
                duration_s=time.monotonic() - started,
                body_bytes=len(body or b""),
            )

        if body is None:
            response = self.error_response(413, "RequestEntityTooLarge", "request body too large")
            log(413, "too_large")
            handler.send(response, close=True)
            return

        fault = self._fault_for(method, path, route_class, split.query)
        if fault is not None and fault.kind in (FaultKind.HANG, FaultKind.RESET):
            if fault.kind is FaultKind.HANG:
                self.sleep(fault.hang_s)
                handler.close_connection = True
            else:
                handler.reset()
            log(0, f"fault:{fault.kind.value}")
            return

        throttle = self.knobs.take_token(route_class) if matched else None
        self.sleep(self.knobs.latency_for(route_class))
        if throttle is not None:
            headers = {}
            if throttle.send_retry_after:
                headers["Retry-After"] = str(max(1, math.ceil(throttle.retry_after_s)))
            response = self.error_response(
                429, "TooManyRequests", "Too many requests, retry later", headers
            )
            log(429, "throttled")
            handler.send(response)
            return
        if fault is not None and fault.kind is not FaultKind.TRUNCATED_JSON:
            response = _fault_response(self, fault)
            log(response.status, f"fault:{fault.kind.value}")
            handler.send(response)
            return

        if matched is None:
            status, code = (405, "MethodNotAllowed") if path_known else (404, "NotFound")
            response = self.error_response(status, code, f"no route for {method} {path}")
        else:
            request = Request(
                method=method,
                path=path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in handler.headers.items()},
                body=body,
                params=params,
                base_url=self.base_url,
            )
            response = self._call(matched, request)
        truncate = fault is not None  # only TRUNCATED_JSON reaches here
        log(response.status, "fault:truncated_json" if truncate else "ok")
        handler.send(response, truncate=truncate)

    def _fault_for(self, method: str, path: str, route_class: str, query: str) -> Fault | None:
        """The scripted fault that fires on this request; a CALL fault's action runs here."""
        fault = self.knobs.fault_for(method, path, route_class, query)
        if fault is not None and fault.kind is FaultKind.CALL:
            assert fault.action is not None
            fault.action()  # e.g. expire tokens: this very request then meets the change
            return None
        return fault

    def _call(self, matched: Route, request: Request) -> Response:
        try:
            return matched.handler(request)
        except HttpError as exc:
            return self.error_response(exc.status, exc.code, exc.message, exc.headers)
        except Exception:
            detail = traceback.format_exc()
            self.internal_errors.append(detail)
            sys.stderr.write(f"{self.name} stand-in internal error:\n{detail}")
            return self.error_response(500, "InternalServerError", "stand-in internal error")


def _fault_response(server: StandInServer, fault: Fault) -> Response:
    """The answer a STATUS or MALFORMED_JSON fault gives instead of the real one."""
    if fault.kind is FaultKind.MALFORMED_JSON:
        return Response(
            200,
            b"<html><body>upstream error</body></html>",
            {"Content-Type": "application/json; charset=utf-8"},
        )
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(math.ceil(fault.retry_after))
    phrase = HTTPStatus(fault.status).phrase
    return server.error_response(
        fault.status, phrase.replace(" ", ""), f"scripted fault: {phrase}", headers
    )
