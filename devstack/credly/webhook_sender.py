"""One webhook POST over HTTP(S) to a checked loopback URL, abortable from another thread."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from urllib.parse import SplitResult

MAX_ANSWER_BYTES = 64 * 1024
"""Bytes of a receiver's answer read before closing (Credly looks at the status only)."""


class WebhookSender:
    """Sends notifications one at a time, each over a fresh connection.

    `http.client` is used directly rather than `requests`, so no proxy setting can ever send
    a notification off this machine.

    Args:
        ssl_context: Trust for `https://` receivers (default: the system's).
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """A sender with no POST in flight."""
        self._ssl_context = ssl_context
        self._active: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def post(self, target: SplitResult, body: bytes, timeout_s: float) -> int:
        """POST a JSON body and return the receiver's status (its body is read and ignored).

        Args:
            target: A URL already accepted by `check_webhook_url`.
            body: The JSON notification.
            timeout_s: Limit on connecting and on each read of the answer.

        Raises:
            TimeoutError: No answer in time.
            OSError: Connection refused, reset, or aborted by `abort()`.
            http.client.HTTPException: The answer was not valid HTTP.
        """
        host = target.hostname or ""
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            context = self._ssl_context or ssl.create_default_context()
            conn = http.client.HTTPSConnection(
                host, target.port, timeout=timeout_s, context=context
            )
        else:
            conn = http.client.HTTPConnection(host, target.port, timeout=timeout_s)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        with self._lock:
            self._active = conn
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            answer = conn.getresponse()
            answer.read(MAX_ANSWER_BYTES)
            return answer.status
        finally:
            with self._lock:
                self._active = None
            conn.close()

    def abort(self) -> None:
        """Cut the connection of the POST in flight, if any, so its caller returns at once."""
        with self._lock:
            conn = self._active
        sock = conn.sock if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
