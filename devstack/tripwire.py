"""A loopback HTTP/1.1 forwarder that counts requests and acts on chosen ones: crash points.

Put between a process and a service (e.g. a crawl worker and Azurite's table port), it
forwards requests one at a time per connection and reads each answer whole, so it knows
which requests the service has seen and which are still being answered. Rules pick requests
by a predicate and their 1-based number among the requests that predicate matched:

- `trip_at` holds the picked request (the service never sees it), holds every later request
  of every connection too, and calls back once: the caller kills the process there, so the
  crash happens exactly before that request.
- `lose_answers` forwards the picked requests and drops their answers with a TCP reset: the
  service did the work, the client cannot know it (an outcome unknown to the caller).

It stops by itself after `max_lifetime_s`, so no test can leave it running.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import h11

from devstack.standin.loopback import LOOPBACK, LoopbackForwarder, reset_connection

_CHUNK = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024
_POLL_S = 0.05


class StreamStoppedError(Exception):
    """The tripwire is stopping: the connection ends."""


class Action(StrEnum):
    """What the tripwire does with a request."""

    FORWARD = "forward"
    HOLD = "hold"
    LOSE_ANSWER = "lose_answer"


@dataclass(frozen=True)
class SeenRequest:
    """A request as the tripwire read it (request line and body; headers are not kept)."""

    method: str
    target: str
    body: bytes = b""

    def mentions(self, text: str) -> bool:
        """Whether `text` appears in the request target or body."""
        return text in self.target or text.encode() in self.body


@dataclass
class Rule:
    """Which requests to act on: the `picks`-th (1-based) of those `matches` accepts.

    Attributes:
        seen: Requests matched so far.
        hits: The picked requests, in the order they came.
    """

    matches: Callable[[SeenRequest], bool]
    picks: frozenset[int]
    action: Action
    on_hit: Callable[[SeenRequest], None] | None = None
    seen: int = 0
    hits: list[SeenRequest] = field(default_factory=list)


class Tripwire(LoopbackForwarder):
    """Forwards HTTP/1.1 on 127.0.0.1:<port> to a target port, acting on chosen requests.

    Attributes:
        forwarded: Requests the service received through this tripwire.

    Args:
        target_port: The port on 127.0.0.1 to forward to.
        port: The port to listen on (0: a free one).
        rewrite_links: Answers naming the service's address (`127.0.0.1:<target_port>`, as
            in Graph's `@odata.nextLink`) name the tripwire's instead, so a client that
            follows links keeps going through it.
        max_lifetime_s: The tripwire stops by itself this long after `start()`.
    """

    noun = "tripwire"
    thread_name = "tripwire"

    def __init__(
        self,
        target_port: int,
        *,
        port: int = 0,
        rewrite_links: bool = False,
        max_lifetime_s: float = 300.0,
    ) -> None:
        """Prepare a tripwire without rules; `start()` listens."""
        super().__init__(target_port, port=port, max_lifetime_s=max_lifetime_s)
        self.rewrite_links = rewrite_links
        self.forwarded = 0
        self._rules: list[Rule] = []
        self._tripped: SeenRequest | None = None
        self._frozen = False
        self._in_flight = 0
        self._quiet = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://{LOOPBACK}:{self.port}"

    # -- rules -----------------------------------------------------------------------------

    def trip_at(
        self,
        matches: Callable[[SeenRequest], bool],
        nth: int,
        on_trip: Callable[[SeenRequest], None],
    ) -> Rule:
        """Hold the `nth` request `matches` accepts, and every request after it; call `on_trip`.

        The held requests never reach the service. `reset()` forwards new requests again.
        """
        if nth < 1:
            raise ValueError("nth counts from 1")
        return self._add(Rule(matches, frozenset({nth}), Action.HOLD, on_trip))

    def lose_answers(self, matches: Callable[[SeenRequest], bool], picks: Iterable[int]) -> Rule:
        """Forward the picked requests, then reset the client's connection instead of answering."""
        return self._add(Rule(matches, frozenset(picks), Action.LOSE_ANSWER))

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    @property
    def tripped(self) -> SeenRequest | None:
        """The request a `trip_at` rule held first, if any."""
        with self._lock:
            return self._tripped

    def freeze(self) -> None:
        """Hold every new request from now on (e.g. another tripwire of the process tripped)."""
        with self._lock:
            self._frozen = True

    def reset(self) -> None:
        """Forget every rule, the trip and any freeze: forward every new request again."""
        with self._lock:
            self._rules.clear()
            self._tripped = None
            self._frozen = False

    def settle(self, timeout_s: float = 30.0) -> bool:
        """Wait until no forwarded request awaits its answer; False if `timeout_s` passed."""
        deadline = time.monotonic() + timeout_s
        with self._quiet:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._quiet.wait(left)
        return True

    def _decide(self, request: SeenRequest) -> Action:
        """The action for one request (counting it against every rule), and any trip."""
        callbacks: list[Callable[[SeenRequest], None]] = []
        action = Action.FORWARD
        with self._lock:
            if self._frozen or self._tripped is not None:
                return Action.HOLD
            for rule in self._rules:
                if not rule.matches(request):
                    continue
                rule.seen += 1
                if rule.seen not in rule.picks:
                    continue
                rule.hits.append(request)
                if rule.action is Action.HOLD:
                    self._tripped = request
                    action = Action.HOLD
                elif action is Action.FORWARD:
                    action = rule.action
                if rule.on_hit is not None:
                    callbacks.append(rule.on_hit)
            if action is not Action.HOLD:
                self._in_flight += 1  # before the lock is released, so `settle` sees it
        for callback in callbacks:
            callback(request)
        return action

    def _answered(self) -> None:
        with self._quiet:
            self._in_flight -= 1
            self.forwarded += 1
            self._quiet.notify_all()

    # -- forwarding ------------------------------------------------------------------------

    def _accepted(self, client: socket.socket) -> None:
        self._spawn(self._serve, client)

    def _accept_loop_ended(self, listener: socket.socket) -> None:
        self._stopping.set()

    def _serve(self, client: socket.socket) -> None:
        """Forward one client connection's requests in order until it closes."""
        client.settimeout(_POLL_S)
        inbound = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        outbound = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        upstream: list[socket.socket] = []  # connected on the first forwarded request
        graceful = False
        try:
            while True:
                request = _receive(inbound, client, self._stopping)
                if request is None:
                    graceful = True
                    return
                head = request.head
                assert isinstance(head, h11.Request)
                method = head.method.decode("latin-1").upper()
                target = head.target.decode("latin-1")
                action = self._decide(SeenRequest(method, target, request.body))
                if action is Action.HOLD:
                    _hold(client, self._stopping)
                    return
                answer = self._ask(outbound, upstream, request)
                if action is Action.LOSE_ANSWER:
                    return  # reset below: the service did the work, the client never hears
                _transmit(inbound, client, self._relayed(answer), self._stopping)
                if not (_next_cycle(inbound) and _next_cycle(outbound)):
                    graceful = True
                    return
        except (OSError, StreamStoppedError, ValueError, h11.ProtocolError):
            return
        finally:
            if graceful:
                with contextlib.suppress(OSError):
                    client.close()
            else:
                reset_connection(client)
            for sock in upstream:
                reset_connection(sock)

    def _ask(
        self, conn: h11.Connection, upstream: list[socket.socket], request: _Message
    ) -> _Message:
        """Forward a request to the service and read its whole answer."""
        try:
            if not upstream:
                upstream.append(socket.create_connection((LOOPBACK, self.target_port), 5))
                upstream[0].settimeout(_POLL_S)
            _transmit(conn, upstream[0], request, self._stopping)
            answer = _receive(conn, upstream[0], self._stopping)
            if answer is None:
                raise ValueError("the service closed without answering")
            return answer
        finally:
            self._answered()

    def _relayed(self, answer: _Message) -> _Message:
        """The answer, naming this tripwire where it named the service."""
        head = answer.head
        service = f"{LOOPBACK}:{self.target_port}".encode()
        if (
            not self.rewrite_links
            or "content-encoding" in answer.headers
            or service not in answer.body
        ):
            return answer
        body = answer.body.replace(service, f"{LOOPBACK}:{self.port}".encode())
        headers = [
            (name, value)
            for name, value in head.headers.raw_items()
            if name.lower() not in (b"content-length", b"transfer-encoding")
        ]
        headers.append((b"Content-Length", str(len(body)).encode()))
        assert isinstance(head, h11.Response)
        resized = h11.Response(status_code=head.status_code, headers=headers, reason=head.reason)
        return _Message(answer.interim, resized, body)


@dataclass(frozen=True)
class _Message:
    """One whole request or answer: interim (1xx) answers before it, its head, its body."""

    interim: tuple[h11.InformationalResponse, ...]
    head: h11.Request | h11.Response
    body: bytes

    @property
    def headers(self) -> set[str]:
        """The lower-case names of its headers."""
        return {name.decode("latin-1") for name, _ in self.head.headers}


def _receive(
    conn: h11.Connection, sock: socket.socket, stopping: threading.Event
) -> _Message | None:
    """The next whole message the peer sends; None when it closed between messages."""
    interim: list[h11.InformationalResponse] = []
    head: h11.Request | h11.Response | None = None
    body: list[bytes] = []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(_recv(sock, stopping))
        elif isinstance(event, h11.InformationalResponse):
            interim.append(event)
        elif isinstance(event, h11.Request | h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body.append(event.data)
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return _Message(tuple(interim), head, b"".join(body))
        elif isinstance(event, h11.ConnectionClosed) and head is None and not interim:
            return None
        else:
            raise ValueError(f"the stream ended inside a message ({event!r})")


def _transmit(
    conn: h11.Connection, sock: socket.socket, message: _Message, stopping: threading.Event
) -> None:
    """Send a whole message, framed as its headers say, in one write (as it came)."""
    events: list[h11.Event] = [*message.interim, message.head]
    if message.body:
        events.append(h11.Data(data=message.body))
    events.append(h11.EndOfMessage())
    _send(sock, b"".join(conn.send(event) or b"" for event in events), stopping)


def _next_cycle(conn: h11.Connection) -> bool:
    """Ready the connection for its next message; False when it must close instead."""
    if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
        conn.start_next_cycle()
        return True
    return False


def _recv(sock: socket.socket, stopping: threading.Event) -> bytes:
    """The next bytes off a socket (b"" at its end), polling so `stopping` is seen."""
    while True:
        if stopping.is_set():
            raise StreamStoppedError
        try:
            return sock.recv(_CHUNK)
        except TimeoutError:
            continue


def _send(sock: socket.socket, data: bytes, stopping: threading.Event) -> None:
    view = memoryview(data)
    while view:
        if stopping.is_set():
            raise StreamStoppedError
        try:
            sent = sock.send(view)
        except TimeoutError:
            continue
        view = view[sent:]


def _hold(client: socket.socket, stopping: threading.Event) -> None:
    """Keep a held request unanswered until its client goes away (or the tripwire stops)."""
    while not stopping.is_set():
        try:
            if not client.recv(_CHUNK):
                return
        except TimeoutError:
            continue
        except OSError:
            return
