"""The wire level of a stand-in: the threaded loopback server and its request handler.

It owns bytes on sockets: TLS wrapping per connection, request bodies (plain or chunked),
writing answers (optionally truncated), and aborting a connection with a TCP reset.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from devstack.standin.messages import Response

if TYPE_CHECKING:
    from devstack.standin.server import StandInServer

MAX_REQUEST_BODY = 16 * 1024 * 1024
"""Bodies above this are refused with 413 before they are read (the services' own limits are
smaller and are checked by the routes)."""


class LoopbackHTTPServer(ThreadingHTTPServer):
    """Threaded server that wraps TLS in the connection's own thread and tracks connections."""

    daemon_threads = True
    allow_reuse_address = True
    standin: StandInServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection, TLS-wrapped in its own thread when the stand-in has TLS."""
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
        """Ignore clients that went away; report anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | ssl.SSLError):
            return  # the client went away; nothing to learn
        super().handle_error(request, client_address)


class StandInRequestHandler(BaseHTTPRequestHandler):
    """Hands every request to the stand-in; owns reading bodies and writing answers."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the
    # client's delayed ACK (~40 ms per response on a kept-alive connection).
    disable_nagle_algorithm = True
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: the stand-in keeps its own request log."""
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
        """Write an answer, optionally cut in half or closing the connection after it."""
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
