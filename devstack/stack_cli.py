"""`python -m devstack stack`: serve the local stack until Ctrl-C, its settings in a dotenv file.

Prints a short summary on stdout: where the settings are, how to load them, what to run next.
Exit codes: 0 after Ctrl-C/SIGTERM, 1 when setup failed, 2 when the settings file cannot be
written (the reason on one line).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from devstack.envfile import EnvFileError, check_replaceable, write_env_file
from devstack.signals import wait_for_interrupt
from devstack.standin import Knobs
from devstack.synthetic import WorldSpec, build_world

if TYPE_CHECKING:
    from devstack.localstack import LocalStack

DEFAULT_ENV_FILE = Path(".env.local")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options only `stack` has (the world's size and knobs are shared with the others)."""
    parser.add_argument(
        "--env-file",
        type=Path,
        default=DEFAULT_ENV_FILE,
        metavar="PATH",
        help="where to write the connector's settings (default .env.local; mode 0600)",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite PATH even if it was not written here"
    )
    parser.add_argument(
        "--host-port",
        type=int,
        metavar="PORT",
        help="where `python -m devstack host` will listen, for Credly's webhooks (default 7071)",
    )
    parser.add_argument("--host-key", metavar="KEY", help="its function key (default: generated)")
    parser.add_argument(
        "--no-setup",
        action="store_true",
        help="leave Graph unprovisioned (then run `python -m credly_connector setup` yourself)",
    )


def main(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Start the stack, write the settings, serve until Ctrl-C or SIGTERM."""
    # Imported here: the connector's runtime is needed by this command only.
    from devstack.azurite import AzuriteError  # noqa: PLC0415
    from devstack.localstack import HostAddress, local_stack  # noqa: PLC0415

    # Until serving, a signal ends start-up through KeyboardInterrupt, which stops whatever
    # has started (Azurite runs in its own process group: it must never be left behind).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    env_path: Path = args.env_file
    try:
        check_replaceable(env_path, force=args.force)
    except EnvFileError as error:
        sys.stderr.write(f"stack: cannot write the settings: {error}\n")
        return 2
    ca_file = env_path.expanduser().absolute().with_name(env_path.name + ".ca.pem")
    host = HostAddress.choose(args.host_port, args.host_key)
    spec = WorldSpec(
        seed=args.seed,
        badges=args.badges,
        organisations=args.organisations,
        # Served on the real clock, so the world is built "now" (its tokens valid from today).
        now=datetime.now(UTC),
    )
    try:
        world = build_world(spec)
        with local_stack(
            world,
            ca_file=ca_file,
            host=host,
            setup=not args.no_setup,
            credly_knobs=_knobs(args.credly_knobs),
            graph_knobs=_knobs(args.graph_knobs),
        ) as running:
            if running.setup is not None and not running.setup.ok:
                sys.stderr.write(
                    "setup failed against the stack:\n" + running.setup.render() + "\n"
                )
                return 1
            try:
                comments = [
                    "The connector's settings for the local stack; valid while it runs.",
                    f"Load them: set -a; . {_shown(env_path)}; set +a",
                ]
                written = write_env_file(env_path, running.env, comments=comments, force=args.force)
            except (EnvFileError, OSError) as error:
                sys.stderr.write(f"stack: cannot write the settings: {error}\n")
                return 2
            out.write(summary(running, env_path, written))
            out.flush()
            wait_for_interrupt(None)
    except AzuriteError as error:
        sys.stderr.write(f"stack: cannot start: {error}\n")
        return 2
    except KeyboardInterrupt:
        pass
    sys.stderr.write("stack stopped\n")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """Interrupt start-up once; a second Ctrl-C must not interrupt stopping what started."""
    del signum, frame
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    raise KeyboardInterrupt


def _knobs(settings: dict[str, object]) -> Knobs | None:
    if not settings:
        return None
    knobs = Knobs()
    knobs.apply_json(settings)
    return knobs


def _shown(path: Path) -> str:
    """The path as typed, with `./` when needed so `.` does not search PATH for it."""
    text = str(path)
    if not path.is_absolute() and "/" not in text:
        text = "./" + text
    return shlex.quote(text)


def summary(running: LocalStack, env_path: Path, written: Path) -> str:
    """What runs where, where the settings are, and what to run next."""
    from devstack.localstack import DEFAULT_HOST_PORT, EVENTS_ROUTE  # noqa: PLC0415

    world, host = running.world, running.host
    env = running.env
    port = "" if host.port == DEFAULT_HOST_PORT else f" --port {host.port}"
    orgs = ", ".join(world.credly.orgs[org_id].name for org_id in world.org_ids)
    setup = (
        "connection, schema, profile source and precedence set up"
        if running.setup is not None
        else "nothing set up yet: run setup"
    )
    shown = _shown(env_path)
    crawl = json.dumps({"kind": "full"})
    lines = [
        "local stack running on 127.0.0.1 (Ctrl-C stops it):",
        f"  storage  Azurite, tables {running.azurite.endpoints.url('table')}",
        f"  Credly   {env['CREDLY_API_URL']} ({orgs}: {world.badge_count} badges);"
        f" webhooks go to {host.base_url}/{EVENTS_ROUTE}",
        f"  Graph    {env['GRAPH_API_URL']} ({len(world.directory)} users; {setup})",
        f"settings written to {written} (mode 0600)",
        "next, in another terminal:",
        f"  set -a; . {shown}; set +a",
        f"  .venv/bin/python -m devstack host --key {host.key}{port}",
        *([] if running.setup is not None else [f"  curl -X POST '{host.url('ops/setup')}'"]),
        f"  curl -X POST '{host.url('ops/crawls')}' -d '{crawl}'",
        "then make something happen at Credly or in Entra ID (the webhook reaches the host):",
        "  .venv/bin/python -m devstack change accept     (see: python -m devstack change -h)",
        "or without the host:",
        *([] if running.setup is not None else ["  .venv/bin/python -m credly_connector setup"]),
        "  .venv/bin/python -m credly_connector crawl --kind full     (also: health, status)",
        "",
    ]
    return "\n".join(lines)
