"""Run the local stack by hand: `python -m devstack {demo,stack,host,change,selfcheck,...}`."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from devstack import change_cli, demo_cli
from devstack.azurite import Azurite
from devstack.credly.server import CredlyStandIn
from devstack.graph.server import GraphStandIn
from devstack.host import cli as host_cli
from devstack.selfcheck import format_report, run_selfcheck
from devstack.signals import wait_for_interrupt
from devstack.stack_cli import add_arguments as add_stack_arguments
from devstack.stack_cli import main as run_stack
from devstack.synthetic import World, WorldSpec, build_world


def _credly_facts(world: World, credly: CredlyStandIn) -> dict[str, Any]:
    orgs = []
    for org_id in world.org_ids:
        org = world.credly.orgs[org_id]
        orgs.append(
            {
                "organization_id": org.id,
                "name": org.name,
                "authorization_token": org.tokens[0].token,
                "oauth_client_id": org.oauth_apps[0].client_id,
                "oauth_client_secret": org.oauth_apps[0].client_secret,
                "badges": len(world.credly.org_badges(org.id)),
            }
        )
    return {"api_url": credly.api_url, "web_url": credly.web_url, "organizations": orgs}


def _graph_facts(world: World, graph: GraphStandIn) -> dict[str, Any]:
    app = graph.apps[0]
    return {
        "graph_url": graph.graph_url,
        "authority": graph.base_url,
        "tenant_id": world.tenant_id,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "users": len(world.directory),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("selfcheck", help="start everything, call each once, stop")
    check.add_argument("--badges", type=int, default=200)
    for name, text in (
        ("stack", "Azurite and both stand-ins over one synthetic organisation"),
        ("credly", "the Credly API stand-in over a synthetic organisation"),
        ("graph", "the Microsoft Graph stand-in over a synthetic directory"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--badges", type=int, default=1000, help="synthetic badges to serve")
        sub.add_argument("--organisations", type=int, default=1)
        sub.add_argument("--seed", type=int, default=1)
        sub.add_argument(
            "--credly-knobs",
            type=json.loads,
            default={},
            help="knobs of the Credly API at start, e.g. '{\"latency_s\": 0.1}'",
        )
        sub.add_argument(
            "--graph-knobs",
            type=json.loads,
            default={},
            help='knobs of Graph at start, e.g. \'{"rate_limits": {"items": {"per_second": 25}}}\'',
        )
        if name == "stack":
            add_stack_arguments(sub)
    commands.add_parser("azurite", help="the Azure Storage emulator alone")
    host_cli.add_arguments(commands.add_parser("host", help=host_cli.HELP))
    demo_cli.add_arguments(commands.add_parser("demo", help=demo_cli.HELP))
    change_cli.add_parser(commands)
    args = parser.parse_args(argv)

    runners = {
        "host": host_cli.main,
        "demo": demo_cli.main,
        "change": change_cli.run,
        "stack": run_stack,
    }
    if args.command in runners:
        return runners[args.command](args)

    if args.command == "selfcheck":
        results = run_selfcheck(badges=args.badges)
        sys.stdout.write(format_report(results) + "\n")
        return 0 if all(r.ok for r in results) else 1

    if args.command == "azurite":
        with Azurite() as azurite:
            sys.stdout.write(json.dumps({"connection_string": azurite.connection_string}) + "\n")
            wait_for_interrupt()
        return 0

    # Served on the real clock, so the world is built "now" (its tokens valid from today).
    spec = WorldSpec(
        seed=args.seed,
        badges=args.badges,
        organisations=args.organisations,
        now=datetime.now(UTC),
    )
    world = build_world(spec)
    with contextlib.ExitStack() as stack:
        facts: dict[str, Any] = {}
        if args.command == "credly":
            credly = stack.enter_context(CredlyStandIn(world.credly))
            credly.api.knobs.apply_json(args.credly_knobs)
            facts["credly"] = _credly_facts(world, credly)
        if args.command == "graph":
            graph = stack.enter_context(GraphStandIn(world.directory, tenant_id=world.tenant_id))
            graph.server.knobs.apply_json(args.graph_knobs)
            facts["graph"] = _graph_facts(world, graph)
        sys.stdout.write(json.dumps(facts, indent=2) + "\n")
        sys.stdout.flush()
        wait_for_interrupt()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
