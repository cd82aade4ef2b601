"""Both stand-ins in a process of their own: `python -m bench.standin_host SPEC_JSON`.

Run by `bench.standins.ChildStandIns`, so that serving Credly pages and Graph writes does not
compete with the pipeline for the parent's GIL. It builds the world from the spec, serves it,
provisions the connection, prints one JSON line (the connector's settings and the world's
size), then answers one JSON command per line on stdin until `stop` or end of input: the
commands do what the stand-ins' control API cannot (change the world, read what Graph holds).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from bench.readings import StandInReadings
from bench.world_ops import ItemLedger, change_badges
from devstack.connected import ConnectedStack, connected_stack
from devstack.standin import Knobs, RateLimit
from devstack.synthetic import WorldSpec, build_world
from devstack.synthetic.world import World


def stack_facts(stack: ConnectedStack) -> dict[str, Any]:
    """The settings and the figures the parent needs about a freshly started stack."""
    world: World = stack.world
    return {
        "env": stack.env,
        "badges": world.badge_count,
        "people": len(world.people),
        "directory_users": len(world.directory),
        "organisations": len(world.org_ids),
    }


def knobs_for(
    latency_s: float, write_limit: float | None = None, *, retry_after: bool = True
) -> Knobs:
    """Knobs with one latency for every route and, optionally, a Graph item-write limit.

    Args:
        retry_after: Whether a 429 over the limit says `Retry-After`.
    """
    knobs = Knobs(latency_s=latency_s)
    if write_limit is not None:
        limit = RateLimit(per_second=write_limit, send_retry_after=retry_after)
        knobs.set_rate_limit("items", limit)
    return knobs


def serve(spec: dict[str, Any], commands: TextIO, out: TextIO) -> None:
    """Serve the stack described by `spec` and answer commands until told to stop."""
    world = build_world(
        WorldSpec(
            seed=int(spec["seed"]),
            badges=int(spec["badges"]),
            now=datetime.fromisoformat(spec["now"]),
        )
    )
    with connected_stack(
        world,
        spec["storage"],
        prefix=spec["prefix"],
        credly_knobs=knobs_for(float(spec["credly_latency_s"])),
        graph_knobs=knobs_for(
            float(spec["graph_latency_s"]),
            spec.get("write_limit"),
            retry_after=bool(spec.get("retry_after", True)),
        ),
        extra_env=spec.get("env") or {},
    ) as stack:
        ledger = ItemLedger(stack.graph)
        readings = StandInReadings(stack)
        answers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "change": lambda cmd: {
                "applied": change_badges(world, int(cmd["count"]), int(cmd["seed"]))
            },
            "snapshot": lambda _cmd: ledger.snapshot(),
            "log": lambda cmd: readings.log(float(cmd["since"])),
            "exact": lambda _cmd: readings.exact(),
            "webhook": lambda cmd: readings.webhook(str(cmd["url"]), int(cmd["seed"])),
            "webhook_result": lambda cmd: readings.webhook_result(float(cmd["timeout_s"])),
        }
        reply(out, stack_facts(stack))
        for line in commands:
            command = json.loads(line)
            if command["op"] == "stop":
                break
            reply(out, answers[command["op"]](command))


def reply(out: TextIO, payload: dict[str, Any]) -> None:
    """One JSON line to the parent."""
    out.write(json.dumps(payload) + "\n")
    out.flush()


def main(argv: list[str]) -> int:
    """Entry point: the spec is the one argument."""
    serve(json.loads(argv[0]), sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
