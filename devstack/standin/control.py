"""The `/_standin/` control API: turn a running stand-in's knobs from another process."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from devstack.standin.knobs import Fault, Knobs
from devstack.standin.messages import Response
from devstack.standin.request_log import RequestLog

CONTROL_PREFIX = "/_standin"


def control_response(
    knobs: Knobs, requests: RequestLog, method: str, path: str, body: bytes
) -> Response:
    """Answer one control request (`path` is below CONTROL_PREFIX).

    Routes: `GET|DELETE /requests` (the log), `GET|PUT /knobs` (latency and rate limits),
    `POST|DELETE /faults` (scripted faults). Bad JSON or values answer 400.
    """

    def cleared(effect: Callable[[], None]) -> Response:
        effect()
        return Response.empty(204)

    def put_knobs(payload: Any) -> Response:
        knobs.apply_json(payload)
        return Response.json(200, knobs.to_json())

    actions: dict[tuple[str, str], Callable[[Any], Response]] = {
        ("GET", "/requests"): lambda _: Response.json(200, [asdict(e) for e in requests.entries()]),
        ("DELETE", "/requests"): lambda _: cleared(requests.clear),
        ("GET", "/knobs"): lambda _: Response.json(200, knobs.to_json()),
        ("PUT", "/knobs"): put_knobs,
        ("POST", "/faults"): lambda payload: Response.json(
            201, knobs.add_fault(Fault.from_json(payload)).to_json()
        ),
        ("DELETE", "/faults"): lambda _: cleared(knobs.clear_faults),
    }
    action = actions.get((method, path))
    if action is None:
        return Response.json(404, {"error": f"unknown control path {method} {path}"})
    try:
        return action(json.loads(body) if body else {})
    except (ValueError, TypeError, KeyError) as exc:
        return Response.json(400, {"error": str(exc)})
