"""The TCP gate: forwards while open, resets while shut, reopens and stops by itself."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from devstack.standin import Request, Response, StandInServer, route
from devstack.standin.tcp_gate import TcpGate

SETTLE_S = 5.0


def _ping(request: Request) -> Response:
    return Response.json(200, {"pong": True})


@pytest.fixture
def upstream() -> Iterator[StandInServer]:
    routes = [route("GET", "/ping", "ping", _ping)]
    with StandInServer("upstream", routes, lambda s, c, m: {"error": m}) as server:
        yield server


def eventually(condition: object, timeout_s: float = SETTLE_S) -> bool:
    """Poll a zero-argument callable until it is true or the time is up."""
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(condition())


def test_the_gate_forwards_while_open_and_resets_while_shut(upstream: StandInServer) -> None:
    with TcpGate(upstream.port) as gate, requests.Session() as session:
        url = f"http://127.0.0.1:{gate.port}/ping"
        assert session.get(url, timeout=5).json() == {"pong": True}

        gate.shut()
        with pytest.raises(requests.ConnectionError):
            session.get(url, timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)

        gate.open()
        assert session.get(url, timeout=5).json() == {"pong": True}
    assert gate.aborted == 1
    assert gate.refused >= 1
    assert upstream.requests.count("ping") == 2


def test_shut_for_reopens_by_itself(upstream: StandInServer) -> None:
    with TcpGate(upstream.port) as gate:
        url = f"http://127.0.0.1:{gate.port}/ping"
        gate.shut_for(0.3)
        assert not gate.is_open
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)

        assert eventually(lambda: gate.is_open)
        assert requests.get(url, timeout=5).status_code == 200


def test_the_gate_stops_by_itself_after_its_lifetime(upstream: StandInServer) -> None:
    gate = TcpGate(upstream.port, max_lifetime_s=0.2).start()
    try:
        port = gate.port
        assert gate.running

        assert eventually(lambda: not gate.running)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)
    finally:
        gate.stop()
