"""The tripwire on its own, in front of a tiny loopback HTTP service."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import ClassVar, cast

import pytest
import requests

from devstack.tripwire import SeenRequest, Tripwire

# Short: a held request is never answered, so the client gives up after this.
HELD_TIMEOUT_S = 0.5


class _Service(BaseHTTPRequestHandler):
    """Answers GET /link in chunks naming its own address, and POST with what it received."""

    protocol_version = "HTTP/1.1"
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_GET(self) -> None:
        self.received.append(("GET", self.path, b""))
        port = cast(HTTPServer, self.server).server_port
        body = f'{{"next": "http://127.0.0.1:{port}/link?page=2"}}'.encode()
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (body[:10], body[10:]):
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(("POST", self.path, body))
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def service() -> Iterator[ThreadingHTTPServer]:
    _Service.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def tripwire(service: ThreadingHTTPServer) -> Iterator[Tripwire]:
    with Tripwire(service.server_port, rewrite_links=True, max_lifetime_s=30) as wire:
        yield wire


def posts(request: SeenRequest) -> bool:
    return request.method == "POST"


def test_it_forwards_on_one_connection_and_names_itself_in_links(
    service: ThreadingHTTPServer, tripwire: Tripwire
) -> None:
    with requests.Session() as session:
        echoed = session.post(f"{tripwire.url}/items", data=b"one", timeout=5)
        linked = session.get(f"{tripwire.url}/link", timeout=5)

    assert (echoed.status_code, echoed.content) == (201, b"one")
    assert linked.json() == {"next": f"{tripwire.url}/link?page=2"}
    assert [(m, p) for m, p, _ in _Service.received] == [("POST", "/items"), ("GET", "/link")]
    assert tripwire.forwarded == 2


def test_a_trip_holds_the_picked_request_and_every_later_one_until_reset(
    tripwire: Tripwire,
) -> None:
    tripped: list[SeenRequest] = []
    tripwire.trip_at(posts, 2, on_trip=tripped.append)
    assert requests.post(f"{tripwire.url}/a", data=b"1", timeout=5).status_code == 201

    with pytest.raises(requests.Timeout):
        requests.post(f"{tripwire.url}/b", data=b"2", timeout=HELD_TIMEOUT_S)
    with pytest.raises(requests.Timeout):
        requests.get(f"{tripwire.url}/link", timeout=HELD_TIMEOUT_S)

    assert tripped == [SeenRequest("POST", "/b", b"2")]
    assert tripwire.tripped == tripped[0]
    assert [p for _, p, _ in _Service.received] == ["/a"]
    tripwire.reset()
    assert requests.get(f"{tripwire.url}/link", timeout=5).status_code == 200


def test_a_lost_answer_reaches_the_service_but_never_the_client(tripwire: Tripwire) -> None:
    rule = tripwire.lose_answers(posts, [1])

    with pytest.raises(requests.ConnectionError):
        requests.post(f"{tripwire.url}/lost", data=b"x", timeout=5)
    answered = requests.post(f"{tripwire.url}/kept", data=b"y", timeout=5)

    assert tripwire.settle()
    assert [p for _, p, _ in _Service.received] == ["/lost", "/kept"]
    assert answered.content == b"y"
    assert [hit.target for hit in rule.hits] == ["/lost"]
