"""A loopback forwarder in front of Azurite's Table port that counts requests by table.

The host's instances are other processes, so their Storage requests cannot be counted by a
hook of ours: their connection string points at this forwarder instead, which reads each
HTTP request's head (and a `$batch` body, for the table its operations name) as it passes
and forwards every byte unchanged. Answers are relayed as they come.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections import Counter

from bench.counters import classify_table_request
from devstack.standin.loopback import LoopbackForwarder
from devstack.standin.server import LOOPBACK

_CHUNK = 64 * 1024
_TIMEOUT_S = 120.0
_HEAD_END = b"\r\n\r\n"
# An operation inside a `$batch` body: `PUT http://host:port/account/table(...) HTTP/1.1`.
_BATCH_OPERATION = re.compile(rb"\n(GET|PUT|POST|PATCH|MERGE|DELETE) \S*?/([A-Za-z0-9]+)[(\s?]")


class TableMeter(LoopbackForwarder):
    """Forwards 127.0.0.1:<port> to Azurite's Table port, counting `table.operation`.

    A transaction (`$batch`) is one request, counted under the table its operations name.
    Requests the meter cannot frame (a chunked body) are forwarded and counted `unparsed`.

    Args:
        target_port: Azurite's Table port.
        max_lifetime_s: The meter stops accepting by itself this long after `start()`.
    """

    noun = "table meter"
    thread_name = "table-meter"

    def __init__(self, target_port: int, *, max_lifetime_s: float = 6 * 3600.0) -> None:
        super().__init__(target_port, max_lifetime_s=max_lifetime_s)
        self._counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def take(self) -> Counter[str]:
        """The counts since the last call (then start again from zero)."""
        with self._count_lock:
            counts, self._counts = self._counts, Counter()
        return counts

    def stop(self) -> None:
        """Stop listening and close every forwarded connection."""
        self._stopping.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        super().stop()

    def _count(self, key: str) -> None:
        with self._count_lock:
            self._counts[key] += 1

    def _accepted(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection((LOOPBACK, self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.settimeout(_TIMEOUT_S)
        with self._lock:
            self._sockets.update((client, upstream))
        self._spawn(self._requests, client, upstream)
        self._spawn(self._answers, upstream, client)

    def _answers(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(_CHUNK):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            self._close(source, sink)

    def _requests(self, source: socket.socket, sink: socket.socket) -> None:
        buffer = b""
        framed = True
        try:
            while True:
                chunk = source.recv(_CHUNK)
                if not chunk:
                    return
                if not framed:
                    sink.sendall(chunk)
                    continue
                buffer += chunk
                while framed and _HEAD_END in buffer:
                    head, _, rest = buffer.partition(_HEAD_END)
                    length, chunked, request = _frame(head)
                    if chunked:
                        framed = False
                        self._count("unparsed")
                        sink.sendall(buffer)
                        buffer = b""
                        break
                    while len(rest) < length:
                        more = source.recv(_CHUNK)
                        if not more:
                            return
                        rest += more
                    body, buffer = rest[:length], rest[length:]
                    self._count(_classify(request, body))
                    sink.sendall(head + _HEAD_END + body)
        except OSError:
            pass
        finally:
            self._close(source, sink)

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._sockets.discard(sock)


def _frame(head: bytes) -> tuple[int, bool, tuple[str, str]]:
    """(body length, whether the body is chunked, (method, path)) of a request head."""
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.rpartition(" ")[0] or rest
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip() or 0)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    return length, chunked, (method, path)


def _classify(request: tuple[str, str], body: bytes) -> str:
    """`table.operation` of one request (a transaction under the table it changes)."""
    method, path = request
    table, kind = classify_table_request(method, path)
    if kind == "batch":
        found = _BATCH_OPERATION.search(body)
        table = found.group(2).decode("ascii") if found else "unknown"
    return f"{table}.{kind}"
