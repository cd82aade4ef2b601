"""The loopback HTTP server both stand-ins are built on: routing, knobs, request log, TLS.

A stand-in declares its routes (method, path pattern, route class, handler) and the shape of
its error envelope; this module serves them on 127.0.0.1 in a background thread, applies the
knobs (latency, rate limits, scripted faults) and records every request for tests to read.
`POST /_standin/faults` lets another process script a fault.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from devstack.lifecycle import Service
from devstack.standin.knobs import Fault, FaultKind, Knobs
from devstack.standin.loopback import LOOPBACK, reset_connection
from devstack.standin.messages import ErrorRenderer, HttpError, Request, Response, Route
from devstack.standin.request_log import RequestLog
from devstack.standin.tls import TlsIdentity

__all__ = ["LOOPBACK", "MAX_REQUEST_BODY", "StandInServer"]  # LOOPBACK: bench/ reads it here

CONTROL_FAULTS = "/_standin/faults"
MAX_REQUEST_BODY = 16 * 1024 * 1024
"""Bodies above this are refused with 413 before they are read (the services' own limits are
smaller and are checked by the routes)."""


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
    ) -> None:
        """Prepare the server; `start()` serves it."""
        self.name = name
        self.routes = routes
        self.render_error = render_error
        self.knobs = knobs or Knobs()
        self.tls = tls
        self.requests = RequestLog()
        self.internal_errors: list[str] = []
        self._port = port
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[Any] = set()
        self._conn_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """`http(s)://127.0.0.1:<port>` of the running server."""
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}"

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
        self._server = _HTTPServer((LOOPBACK, self._port), _Handler)
        self._server.standin = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
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

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when it stopped."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()

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

    def serve(self, handler: _Handler) -> None:
        """Serve one request: control API, routing, knobs, handler, log."""
        started = time.monotonic()
        method = handler.command
        split = urlsplit(handler.path)
        path = unquote(split.path)
        body = handler.read_body()
        if path.startswith("/_standin/"):
            handler.send(_control(self.knobs, method, path, body or b""))
            return
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

        fault = self.knobs.fault_for(method, path, route_class, split.query)
        if fault is not None and fault.kind is FaultKind.CALL:
            assert fault.action is not None
            fault.action()  # e.g. expire tokens: this very request then meets the change
            fault = None
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
            wait_s, say_so = throttle
            headers = {"Retry-After": str(max(1, math.ceil(wait_s)))} if say_so else {}
            response = self.error_response(
                429, "TooManyRequests", "Too many requests, retry later", headers
            )
            log(429, "throttled")
            handler.send(response)
            return
        if fault is not None and fault.kind is not FaultKind.TRUNCATED_JSON:
            response = self._fault_response(fault)
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

    def _fault_response(self, fault: Fault) -> Response:
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
        return self.error_response(
            fault.status, phrase.replace(" ", ""), f"scripted fault: {phrase}", headers
        )


def _control(knobs: Knobs, method: str, path: str, body: bytes) -> Response:
    """`POST /_standin/faults` scripts a fault (JSON form of `Fault`); bad JSON answers 400."""
    if (method, path) != ("POST", CONTROL_FAULTS):
        return Response.json(404, {"error": f"unknown control path {method} {path}"})
    try:
        return Response.json(201, knobs.add_fault(Fault.from_json(json.loads(body))).to_json())
    except (ValueError, TypeError, KeyError) as exc:
        return Response.json(400, {"error": str(exc)})


class _HTTPServer(ThreadingHTTPServer):
    """Threaded server that wraps TLS in the connection's own thread and tracks connections."""

    daemon_threads = True
    allow_reuse_address = True
    standin: StandInServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection, TLS-wrapped in its own thread when the stand-in has TLS."""
        standin = self.standin
        if standin.tls is not None:
            try:
                request = standin.tls.context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        with standin._conn_lock:
            standin._connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with standin._conn_lock:
                standin._connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away; report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | ssl.SSLError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the stand-in; owns reading bodies and writing answers."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the
    # client's delayed ACK (~40 ms per response on a kept-alive connection).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: the stand-in keeps its own request log."""

    def _serve(self) -> None:
        self.server.standin.serve(self)

    # The stdlib dispatches on these names.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve  # noqa: N815

    def read_body(self) -> bytes | None:
        """The request body; None when it is over MAX_REQUEST_BODY (left unread)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                total += size
                if total > MAX_REQUEST_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def send(self, response: Response, truncate: bool = False, close: bool = False) -> None:
        """Write an answer, optionally cut in half or closing the connection after it."""
        body = response.body[: len(response.body) // 2] if truncate else response.body
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reset(self) -> None:
        """Abort the connection with a TCP RST."""
        reset_connection(self.connection)
        self.close_connection = True
