"""Run the local stack by hand: `python -m devstack {demo,stack,host,change,azurite}`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from devstack.host import cli as host_cli
from devstack.world_control import CHANGES


def _demo(args: argparse.Namespace) -> int:
    from devstack.demo import run_demo  # noqa: PLC0415 - imports the connector

    try:
        return run_demo(
            sys.stdout,
            badges=args.badges,
            seed=args.seed,
            instances=args.instances,
            preview_dir=args.preview_out,
            serve=args.serve,
            env_file=args.env_file,
        )
    except KeyboardInterrupt:
        sys.stderr.write("demo stopped\n")
        return 130


def _azurite(args: argparse.Namespace) -> int:
    from devstack.azurite import Azurite  # noqa: PLC0415
    from devstack.signals import wait_for_interrupt  # noqa: PLC0415

    with Azurite() as azurite:
        sys.stdout.write(json.dumps({"connection_string": azurite.connection_string}) + "\n")
        wait_for_interrupt()
    return 0


def _stack(args: argparse.Namespace) -> int:
    from devstack.localstack import serve_stack  # noqa: PLC0415 - imports the connector

    return serve_stack(args)


def _change(args: argparse.Namespace) -> int:
    from devstack.world_control import request_change  # noqa: PLC0415

    return request_change(args.kind, args.url)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    stack = commands.add_parser("stack", help="Azurite and both stand-ins, set up, until Ctrl-C")
    stack.set_defaults(run=_stack)
    stack.add_argument("--badges", type=int, default=1000, help="synthetic badges to serve")
    stack.add_argument("--organisations", type=int, default=1)
    stack.add_argument("--seed", type=int, default=1)
    stack.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env.local"),
        metavar="PATH",
        help="where to write the connector's settings (default .env.local; mode 0600)",
    )
    stack.add_argument(
        "--force", action="store_true", help="overwrite PATH even if it was not written here"
    )
    stack.add_argument(
        "--host-port",
        type=int,
        metavar="PORT",
        help="where `python -m devstack host` will listen, for Credly's webhooks (default 7071)",
    )
    stack.add_argument("--host-key", metavar="KEY", help="its function key (default: generated)")
    stack.add_argument(
        "--no-setup",
        action="store_true",
        help="leave Graph unprovisioned (then run `python -m credly_connector setup` yourself)",
    )

    host = commands.add_parser("host", help=host_cli.HELP)
    host_cli.add_arguments(host)
    host.set_defaults(run=host_cli.main)

    demo = commands.add_parser(
        "demo", help="the app on the local host: setup, crawls, a webhook, changes, all over HTTP"
    )
    demo.set_defaults(run=_demo)
    demo.add_argument("--badges", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--instances", type=int, default=1, help="host instances (default 1)")
    demo.add_argument(
        "--preview-out", type=Path, help="directory of the dry run's preview page (default: temp)"
    )
    demo.add_argument(
        "--serve", action="store_true", help="keep the stack and the host running until Ctrl-C"
    )
    demo.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env.local"),
        help="with --serve: where the running stack's settings go (default .env.local)",
    )

    change = commands.add_parser(
        "change",
        help="change the running stack's world (a badge earned, a user disabled...)",
        description="\n".join(f"{k:<15} {v}" for k, v in CHANGES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    change.set_defaults(run=_change)
    change.add_argument("kind", choices=[*CHANGES, "webhook"], metavar="KIND")
    change.add_argument("url", nargs="?", help="for `webhook`: the URL (omit to clear it)")

    commands.add_parser("azurite", help="the Azure Storage emulator alone").set_defaults(
        run=_azurite
    )
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
