"""HTTP/1.1 framing for the tripwire: read one whole request or answer off a socket.

Only framing: start line, headers, and a body by `Content-Length`, chunked transfer, or
(answers only) the end of the stream. Nothing is interpreted beyond what finding the end of
a message needs, so bytes are relayed exactly as they came unless the caller rebuilds them.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

_CHUNK = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024


class StreamStoppedError(Exception):
    """The owner asked every reader to stop: the connection ends."""


class SocketReader:
    """Buffered reads from a socket with a poll timeout, ending when `stopping` is set.

    Args:
        sock: A socket with a (short) timeout, so `stopping` is checked between reads.
    """

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self.stopping = stopping
        self.buffer = b""

    def _fill(self) -> bool:
        """Read more bytes; False at the end of the stream."""
        while True:
            if self.stopping.is_set():
                raise StreamStoppedError
            try:
                data = self.sock.recv(_CHUNK)
            except TimeoutError:
                continue
            if not data:
                return False
            self.buffer += data
            return True

    def until(self, marker: bytes, limit: int = MAX_HEAD_BYTES) -> bytes | None:
        """Bytes up to and including `marker`; None when the stream ends first."""
        while marker not in self.buffer:
            if len(self.buffer) > limit:
                raise ValueError("header block too large")
            if not self._fill():
                return None
        end = self.buffer.index(marker) + len(marker)
        taken, self.buffer = self.buffer[:end], self.buffer[end:]
        return taken

    def exactly(self, size: int) -> bytes:
        """`size` bytes (ValueError when the stream ends first)."""
        while len(self.buffer) < size:
            if not self._fill():
                raise ValueError("the stream ended inside a body")
        taken, self.buffer = self.buffer[:size], self.buffer[size:]
        return taken

    def rest(self) -> bytes:
        """Everything until the stream ends."""
        while self._fill():
            pass
        taken, self.buffer = self.buffer, b""
        return taken


@dataclass(frozen=True)
class Message:
    """One request or answer as read.

    Attributes:
        interim: Interim (1xx) answers that came before an answer, as received.
        head: The header block, start line and blank line included.
        start: The start line.
        headers: Header values by lower-case name.
        raw_body: The body as received (chunk framing included).
        body: The body's data.
        closes: Whether the sender closes the connection after this message.
    """

    interim: bytes
    head: bytes
    start: str
    headers: dict[str, str]
    raw_body: bytes
    body: bytes
    closes: bool

    @property
    def raw(self) -> bytes:
        """Every byte as received."""
        return self.interim + self.head + self.raw_body

    def with_body(self, body: bytes) -> bytes:
        """The message's bytes with another body, framed by `Content-Length`."""
        lines = self.head.decode("latin-1").split("\r\n")
        kept = [
            line
            for line in lines[1:]
            if line
            and line.partition(":")[0].strip().lower()
            not in ("content-length", "transfer-encoding")
        ]
        head = "\r\n".join([lines[0], *kept, f"Content-Length: {len(body)}", "", ""])
        return self.interim + head.encode("latin-1") + body


def _parse(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def _chunked(headers: dict[str, str]) -> bool:
    return "chunked" in headers.get("transfer-encoding", "").lower()


def _closes(headers: dict[str, str]) -> bool:
    return headers.get("connection", "").lower() == "close"


def _body(reader: SocketReader, headers: dict[str, str]) -> tuple[bytes, bytes]:
    """A body as received and its data, by chunked transfer or `Content-Length`."""
    if not _chunked(headers):
        body = reader.exactly(int(headers.get("content-length", "0") or "0"))
        return body, body
    raw = b""
    data = b""
    while True:
        line = reader.until(b"\r\n")
        if line is None:
            raise ValueError("the stream ended inside a chunked body")
        raw += line
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while (trailer := reader.until(b"\r\n")) not in (None, b"\r\n"):
                raw += trailer or b""
            return raw + b"\r\n", data
        chunk = reader.exactly(size + 2)
        raw += chunk
        data += chunk[:-2]


def read_request(reader: SocketReader) -> Message | None:
    """The next request on a connection; None when the client closed it."""
    head = reader.until(b"\r\n\r\n")
    if head is None:
        return None
    start, headers = _parse(head)
    raw, data = _body(reader, headers)
    return Message(b"", head, start, headers, raw, data, _closes(headers))


def read_response(reader: SocketReader, method: str) -> Message:
    """The answer to a request of `method`, with any interim answers before it."""
    interim = b""
    while True:
        head = reader.until(b"\r\n\r\n")
        if head is None:
            raise ValueError("the service closed without answering")
        start, headers = _parse(head)
        status = int(start.split(" ")[1])
        if 100 <= status < 200:
            interim += head
            continue
        if method == "HEAD" or status in (204, 304):
            return Message(interim, head, start, headers, b"", b"", _closes(headers))
        if _chunked(headers) or "content-length" in headers:
            raw, data = _body(reader, headers)
            return Message(interim, head, start, headers, raw, data, _closes(headers))
        rest = reader.rest()
        return Message(interim, head, start, headers, rest, rest, True)
