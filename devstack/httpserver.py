"""The loopback HTTP server both stand-ins are built on: routing, knobs, request log, TLS.

A stand-in declares its routes (method, path pattern, route class, handler) and the shape of
its error envelope; this module serves them on 127.0.0.1 in a background thread, applies the
knobs (latency, rate limits, scripted faults) and records every request for tests to read.
A control API under `/_standin/` lets another process turn the same knobs.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from devstack.knobs import Fault, FaultKind, Knobs, RateLimit

LOOPBACK = "127.0.0.1"
MAX_REQUEST_BODY = 16 * 1024 * 1024
"""Bodies above this are refused with 413 before they are read (the services' own limits are
smaller and are checked by the routes)."""


class HttpError(Exception):
    """Raised by a route handler to answer with the stand-in's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
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


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the log keeps it (no bodies, no credentials)."""

    seq: int
    at: float
    method: str
    path: str
    query: str
    route_class: str
    status: int
    outcome: str
    duration_s: float
    body_bytes: int


class RequestLog:
    """Thread-safe, bounded log of requests with counters that never drop."""

    def __init__(self, max_entries: int = 500_000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, **fields: Any) -> LoggedRequest:
        """Append one request."""
        with self._lock:
            self._seq += 1
            entry = LoggedRequest(seq=self._seq, **fields)
            self._entries.append(entry)
            self._counts[(entry.route_class, entry.method, entry.status)] += 1
            return entry

    def entries(
        self, route_class: str | None = None, method: str | None = None
    ) -> list[LoggedRequest]:
        """The logged requests, optionally of one route class and method."""
        with self._lock:
            return [
                e
                for e in self._entries
                if (route_class is None or e.route_class == route_class)
                and (method is None or e.method == method)
            ]

    def count(
        self, route_class: str | None = None, method: str | None = None, status: int | None = None
    ) -> int:
        """How many requests matched (counted even when the bounded log dropped them)."""
        with self._lock:
            return sum(
                n
                for (cls, meth, st), n in self._counts.items()
                if (route_class is None or cls == route_class)
                and (method is None or meth == method)
                and (status is None or st == status)
            )

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._entries.clear()
            self._counts.clear()


@dataclass(frozen=True)
class TlsIdentity:
    """A server certificate for 127.0.0.1 and the CA file clients must trust."""

    context: ssl.SSLContext
    ca_file: Path

    @classmethod
    def self_signed(cls, directory: Path) -> TlsIdentity:
        """Issue a throwaway CA and a certificate for 127.0.0.1/localhost (uses trustme)."""
        import trustme  # noqa: PLC0415 - dev-only dependency, needed only when TLS is asked for

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        directory.mkdir(parents=True, exist_ok=True)
        ca_file = directory / "standin-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        return cls(context, ca_file)


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: StandInServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        tls = self.standin.tls
        if tls is not None:
            try:
                request = tls.context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        self.standin.track(request)
        try:
            super().finish_request(request, client_address)
        finally:
            self.standin.untrack(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | ssl.SSLError):
            return  # the client went away; nothing to learn
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the
    # client's delayed ACK (~40 ms per response on a kept-alive connection).
    disable_nagle_algorithm = True
    server: _ThreadingServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        self.server.standin.serve(self)

    # The stdlib dispatches on these names.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve  # noqa: N815

    def read_body(self) -> bytes | None:
        """The request body; None when it is over MAX_REQUEST_BODY (left unread)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                total += size
                if total > MAX_REQUEST_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def send(self, response: Response, truncate: bool = False, close: bool = False) -> None:
        body = response.body
        if truncate:
            body = body[: len(body) // 2]
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
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.close()
        self.close_connection = True


class StandInServer:
    """A stand-in HTTP service on loopback, served from a background thread.

    Subclasses pass their routes and error renderer. Use as a context manager, or call
    `start()` and `stop()`; `stop()` also releases hanging requests and closes kept-alive
    connections, so no thread outlives the server for long.
    """

    control_prefix = "/_standin"

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
        self.name = name
        self.routes = routes
        self.render_error = render_error
        self.knobs = knobs or Knobs()
        self.tls = tls
        self.requests = request_log or RequestLog()
        self.internal_errors: list[str] = []
        self._port = port
        self._server: _ThreadingServer | None = None
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
        server = _ThreadingServer((LOOPBACK, self._port), _RequestHandler)
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

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

    def serve(self, handler: _RequestHandler) -> None:
        """Serve one request: control API, routing, knobs, handler, log."""
        started = time.monotonic()
        method = handler.command
        split = urlsplit(handler.path)
        path = unquote(split.path)
        if path.startswith(self.control_prefix):
            control_body = handler.read_body() or b""
            handler.send(self._control(method, path[len(self.control_prefix) :], control_body))
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

        fault = self.knobs.fault_for(method, path, route_class)
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

    # -- control API -----------------------------------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> Response:
        """`/_standin/{requests,knobs,faults}` for processes that cannot hold the object."""
        actions: dict[tuple[str, str], Callable[[Any], Response]] = {
            ("GET", "/requests"): lambda _: Response.json(
                200, [asdict(e) for e in self.requests.entries()]
            ),
            ("DELETE", "/requests"): lambda _: _done(self.requests.clear),
            ("GET", "/knobs"): lambda _: Response.json(200, self.knobs_json()),
            ("PUT", "/knobs"): self._put_knobs,
            ("POST", "/faults"): lambda payload: Response.json(
                201, self.knobs.add_fault(Fault.from_json(payload)).to_json()
            ),
            ("DELETE", "/faults"): lambda _: _done(self.knobs.clear_faults),
        }
        action = actions.get((method, path))
        if action is None:
            return Response.json(404, {"error": f"unknown control path {method} {path}"})
        try:
            return action(json.loads(body) if body else {})
        except (ValueError, TypeError, KeyError) as exc:
            return Response.json(400, {"error": str(exc)})

    def _put_knobs(self, payload: Any) -> Response:
        self.apply_knobs_json(payload)
        return Response.json(200, self.knobs_json())

    def knobs_json(self) -> dict[str, Any]:
        """The knobs as JSON (latency, rate limits, faults)."""
        return {
            "latency_s": self.knobs.latency_s,
            "latency_by_class": dict(self.knobs.latency_by_class),
            "rate_limits": {k: asdict(v) for k, v in self.knobs.rate_limits().items()},
            "faults": [f.to_json() for f in self.knobs.faults()],
        }

    def apply_knobs_json(self, payload: dict[str, Any]) -> None:
        """Set latency and rate limits from JSON (the control API's PUT /knobs)."""
        unknown = set(payload) - {"latency_s", "latency_by_class", "rate_limits"}
        if unknown:
            raise ValueError(f"unknown knobs: {sorted(unknown)}")
        if "latency_s" in payload:
            self.knobs.set_latency(float(payload["latency_s"]))
        for route_class, seconds in payload.get("latency_by_class", {}).items():
            self.knobs.set_latency(float(seconds), route_class)
        for route_class, limit in payload.get("rate_limits", {}).items():
            self.knobs.set_rate_limit(route_class, RateLimit(**limit) if limit else None)


def _done(effect: Callable[[], None]) -> Response:
    """Run a control action's side effect, then answer 204."""
    effect()
    return Response.empty(204)


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


@contextlib.contextmanager
def running(*servers: StandInServer) -> Iterator[tuple[StandInServer, ...]]:
    """Start several stand-ins and stop them all on exit, even when one fails to start."""
    started: list[StandInServer] = []
    try:
        for server in servers:
            started.append(server.start())
        yield servers
    finally:
        for server in reversed(started):
            server.stop()
