"""The stand-in server base: routing, knobs (latency, rate limits, faults), log, control API."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devstack.standin import (
    MAX_REQUEST_BODY,
    Fault,
    FaultKind,
    HttpError,
    Knobs,
    RateLimit,
    Request,
    Response,
    StandInServer,
    route,
)


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _echo(request: Request) -> Response:
    return Response.json(200, {"id": request.params["id"], "q": request.arg("q")})


def _teapot(request: Request) -> Response:
    raise HttpError(418, "short and stout", "Teapot")


def _boom(request: Request) -> Response:
    raise RuntimeError("bug in a handler")


@pytest.fixture
def server() -> Iterator[StandInServer]:
    routes = [
        route("GET", "/things/{id}", "things", _echo),
        route("POST", "/teapot", "teapot", _teapot),
        route("GET", "/boom", "boom", _boom),
    ]
    with StandInServer("test", routes, _error) as running:
        yield running


def test_binds_loopback_and_routes_with_params(server: StandInServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    answer = requests.get(f"{server.base_url}/things/a%20b?q=x", timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"id": "a b", "q": "x"}
    [logged] = server.requests.entries()
    assert (logged.route_class, logged.method, logged.status) == ("things", "GET", 200)


def test_unknown_path_404_wrong_method_405_handler_error_envelope(server: StandInServer) -> None:
    missing = requests.get(f"{server.base_url}/nope", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NotFound"
    wrong = requests.delete(f"{server.base_url}/things/1", timeout=5)
    assert wrong.status_code == 405
    teapot = requests.post(f"{server.base_url}/teapot", timeout=5)
    assert teapot.status_code == 418
    assert teapot.json() == {"error": {"code": "Teapot", "message": "short and stout"}}


def test_handler_bug_is_a_500_and_is_recorded(
    server: StandInServer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = requests.get(f"{server.base_url}/boom", timeout=5)
    assert answer.status_code == 500
    assert len(server.internal_errors) == 1
    assert "bug in a handler" in server.internal_errors[0]
    assert "bug in a handler" in capsys.readouterr().err


def test_oversized_body_is_refused_unread(server: StandInServer) -> None:
    answer = requests.post(
        f"{server.base_url}/teapot",
        data=b"x" * (MAX_REQUEST_BODY + 1),
        timeout=10,
    )
    assert answer.status_code == 413


def test_latency_is_applied_per_route_class(server: StandInServer) -> None:
    server.knobs.set_latency(0.4, "things")
    started = time.monotonic()
    requests.get(f"{server.base_url}/things/1", timeout=5)
    delayed = time.monotonic() - started
    started = time.monotonic()
    requests.post(f"{server.base_url}/teapot", timeout=5)
    undelayed = time.monotonic() - started
    assert delayed >= 0.4
    assert undelayed < delayed - 0.2


def test_rate_limit_answers_429_with_and_without_retry_after(server: StandInServer) -> None:
    server.knobs.set_rate_limit("things", RateLimit(per_second=1, burst=2))
    with requests.Session() as session:
        statuses = [session.get(f"{server.base_url}/things/1", timeout=5) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].headers["Retry-After"] == "1"
    assert statuses[2].json()["error"]["code"] == "TooManyRequests"

    server.knobs.set_rate_limit("things", RateLimit(per_second=1, burst=1, send_retry_after=False))
    requests.get(f"{server.base_url}/things/1", timeout=5)
    throttled = requests.get(f"{server.base_url}/things/1", timeout=5)
    assert throttled.status_code == 429
    assert "Retry-After" not in throttled.headers
    assert server.requests.count(route_class="things", status=429) == 2


def test_token_bucket_refills_with_the_clock() -> None:
    now = [0.0]
    knobs = Knobs(clock=lambda: now[0])
    knobs.set_rate_limit("items", RateLimit(per_second=25, burst=1))
    assert knobs.take_token("items") is None
    throttle = knobs.take_token("items")
    assert throttle is not None
    assert throttle[0] == pytest.approx(1 / 25)
    now[0] += 1 / 25
    assert knobs.take_token("items") is None
    assert knobs.take_token("other") is None


def test_status_fault_on_nth_request_only(server: StandInServer) -> None:
    fault = server.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="things", nth=2, status=503, retry_after=3)
    )
    statuses = [requests.get(f"{server.base_url}/things/1", timeout=5) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 503, 200]
    assert statuses[1].headers["Retry-After"] == "3"
    assert fault.fired == 1


def test_fault_fires_times_then_stops(server: StandInServer) -> None:
    server.knobs.add_fault(Fault(FaultKind.STATUS, path_contains="/things/", times=2, status=502))
    statuses = [
        requests.get(f"{server.base_url}/things/1", timeout=5).status_code for _ in range(3)
    ]
    assert statuses == [502, 502, 200]


def test_truncated_and_malformed_json(server: StandInServer) -> None:
    server.knobs.add_fault(Fault(FaultKind.TRUNCATED_JSON, route_class="things"))
    truncated = requests.get(f"{server.base_url}/things/abcdef", timeout=5)
    assert truncated.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        truncated.json()
    assert truncated.text == '{"id": "abcdef", "q": null}'[: len(truncated.content)]

    server.knobs.add_fault(Fault(FaultKind.MALFORMED_JSON, route_class="things"))
    malformed = requests.get(f"{server.base_url}/things/1", timeout=5)
    with pytest.raises(requests.JSONDecodeError):
        malformed.json()
    assert requests.get(f"{server.base_url}/things/1", timeout=5).json()["id"] == "1"


def test_reset_fault_aborts_the_connection(server: StandInServer) -> None:
    server.knobs.add_fault(Fault(FaultKind.RESET, route_class="things"))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.base_url}/things/1", timeout=5)
    assert requests.get(f"{server.base_url}/things/1", timeout=5).status_code == 200


def test_hang_fault_outlasts_the_client_timeout_and_is_bounded(server: StandInServer) -> None:
    server.knobs.add_fault(Fault(FaultKind.HANG, route_class="things", hang_s=0.5))
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.get(f"{server.base_url}/things/1", timeout=0.2)
    assert time.monotonic() - started < 0.5
    deadline = time.monotonic() + 3
    while not server.requests.entries(route_class="things") and time.monotonic() < deadline:
        time.sleep(0.05)
    [logged] = server.requests.entries(route_class="things")
    assert logged.outcome == "fault:hang"
    assert requests.get(f"{server.base_url}/things/1", timeout=5).status_code == 200


def test_control_api_scripts_faults(server: StandInServer) -> None:
    control = f"{server.base_url}/_standin"
    added = requests.post(
        f"{control}/faults",
        json={"kind": "status", "route_class": "teapot", "status": 500},
        timeout=5,
    )
    assert added.status_code == 201
    assert added.json()["route_class"] == "teapot"
    assert requests.post(f"{server.base_url}/teapot", timeout=5).status_code == 500
    refused = requests.post(f"{control}/faults", json={"kind": "status", "bogus": 1}, timeout=5)
    assert refused.status_code == 400
    assert requests.get(f"{control}/faults", timeout=5).status_code == 404
    assert [e.route_class for e in server.requests.entries()] == ["teapot"]


def test_modes_are_set_cleared_and_reset(server: StandInServer) -> None:
    server.knobs.set_mode("credly.badges.updated_at_min", "ignore")
    assert server.knobs.mode("credly.badges.updated_at_min", "accept") == "ignore"
    server.knobs.set_mode("credly.badges.updated_at_min", None)
    assert server.knobs.mode("credly.badges.updated_at_min", "accept") == "accept"
    server.knobs.set_mode("x", "y")
    server.knobs.reset()
    assert server.knobs.modes == {}


def test_stop_closes_kept_alive_connections_and_frees_the_port() -> None:
    server = StandInServer("short", [route("GET", "/things/{id}", "things", _echo)], _error)
    server.start()
    port = server.port
    session = requests.Session()
    assert session.get(f"{server.base_url}/things/1", timeout=5).status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/things/1", timeout=2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
