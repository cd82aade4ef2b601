"""`python -m devstack stack`: Azurite and both stand-ins, set up, until Ctrl-C.

The connector's settings for the running stack go to a dotenv file; stdout gets a short
summary: where the settings are, how to load them, what to run next. Exit codes: 0 after
Ctrl-C/SIGTERM, 1 when setup failed, 2 when the settings file cannot be written or Azurite
cannot start (the reason on one line).

The Graph stand-in serves HTTPS with a throwaway CA, so the connector authenticates the way it
does in production: an app secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`)
exchanged by azure-identity at the stand-in's token endpoint (the connector makes a loopback
Graph its own authority) for tokens it renews itself, for as long as the stack runs. The CA
file is written next to the settings file and named in `GRAPH_CA_FILE`.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from credly_connector.ops.setup import setup_report
from credly_connector.ops.setup_report import SetupReport
from credly_connector.runtime import build_context
from credly_connector.settings import (
    DEFAULT_FULL_SCHEDULE,
    DEFAULT_INCREMENTAL_SCHEDULE,
    load_settings,
)
from devstack.azurite import Azurite, AzuriteError
from devstack.connected import CONNECTION_ID, credly_settings
from devstack.credly.server import CredlyStandIn
from devstack.envfile import EnvFileError, check_replaceable, write_env_file
from devstack.graph.server import GraphStandIn
from devstack.signals import wait_for_interrupt
from devstack.standin import TlsIdentity
from devstack.synthetic import World, WorldSpec, build_world
from devstack.world_control import WORLD_URL_SETTING, WorldControl

DEFAULT_HOST_PORT = 7071
"""The port `python -m devstack host` (and `func start`) serves on by default."""
EVENTS_ROUTE = "credly/events"
"""The function app's route for Credly's webhook."""
SETUP_WAIT_S = 60.0


@dataclass(frozen=True)
class HostAddress:
    """Where the Functions host will serve, so Credly's webhooks can be aimed at it."""

    port: int
    key: str

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/api`."""
        return f"http://127.0.0.1:{self.port}/api"

    def url(self, route: str) -> str:
        """A route's URL with the function key in `?code=`."""
        return f"{self.base_url}/{route}?code={self.key}"

    @classmethod
    def choose(cls, port: int | None, key: str | None) -> HostAddress:
        """`port` (0: a free one now) and `key` (None: a new random one)."""
        if port is None:
            port = DEFAULT_HOST_PORT
        if port == 0:
            port = free_port()
        return cls(port, key or secrets.token_urlsafe(24))


@dataclass
class LocalStack:
    """The running stack, the settings that point the connector at it, and setup's report."""

    world: World
    azurite: Azurite
    credly: CredlyStandIn
    graph: GraphStandIn
    host: HostAddress
    env: dict[str, str]
    setup: SetupReport | None


def ca_file_beside(env_path: Path) -> Path:
    """Where the Graph stand-in's CA goes: next to the settings file that names it."""
    return env_path.expanduser().absolute().with_name(env_path.name + ".ca.pem")


def free_port() -> int:
    """A loopback port free right now (the OS's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_settings(
    world: World, storage: str, credly: CredlyStandIn, graph: GraphStandIn, ca_file: Path
) -> dict[str, str]:
    """Every setting the connector reads to run against this stack, named as it reads them.

    Args:
        world: The world the stack serves.
        storage: Azurite's connection string.
        credly: The running Credly stand-in.
        graph: The running Graph stand-in.
        ca_file: The CA bundle the Graph stand-in's certificate chains to.
    """
    env = {"AzureWebJobsStorage": storage, **credly_settings(world, credly)}
    app = graph.apps[0]
    env.update(
        {
            "GRAPH_API_URL": graph.graph_url,
            "GRAPH_CONNECTION_ID": CONNECTION_ID,
            "AZURE_TENANT_ID": graph.tenant_id,
            "AZURE_CLIENT_ID": app.client_id,
            "AZURE_CLIENT_SECRET": app.client_secret,
            "GRAPH_CA_FILE": str(ca_file),
            "INCREMENTAL_CRAWL_SCHEDULE": DEFAULT_INCREMENTAL_SCHEDULE,
            "FULL_CRAWL_SCHEDULE": DEFAULT_FULL_SCHEDULE,
            "FUNCTIONS_WORKER_RUNTIME": "python",
        }
    )
    return env


@contextmanager
def local_stack(
    world: World,
    *,
    ca_file: Path,
    host: HostAddress,
    setup: bool = True,
) -> Iterator[LocalStack]:
    """Start Azurite and both stand-ins for `world`, aim Credly's webhooks at `host`.

    Args:
        world: The world the stand-ins serve.
        ca_file: Where to write the Graph stand-in's CA certificate (kept after the stack stops;
            it is public and the settings file names it).
        host: Where the Functions host will listen.
        setup: Run the connector's own setup (tables, queues, connection, schema, profile
            source, precedence) against the stack, so a crawl works at once.
    """
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="devstack-tls-")))
        tls = TlsIdentity.self_signed(scratch)
        ca_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tls.ca_file, ca_file)
        azurite = stack.enter_context(Azurite())
        credly = stack.enter_context(CredlyStandIn(world.credly))
        graph = stack.enter_context(
            GraphStandIn(
                world.directory,
                tenant_id=world.tenant_id,
                tls=tls,
                schema_delay_s=0,
            )
        )
        for org_id in world.org_ids:
            world.credly.orgs[org_id].webhook_url = host.url(EVENTS_ROUTE)
        credly.webhooks.start()
        control = stack.enter_context(WorldControl(world, seed=world.spec.seed))
        env = stack_settings(world, azurite.connection_string, credly, graph, ca_file)
        # Not a connector setting: where `python -m devstack change` finds this stack.
        env[WORLD_URL_SETTING] = control.base_url
        report = (
            setup_report(build_context(load_settings(env)), wait_s=SETUP_WAIT_S) if setup else None
        )
        yield LocalStack(world, azurite, credly, graph, host, env, report)


def serve_stack(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """`python -m devstack stack`: start the stack, write the settings, serve until Ctrl-C."""
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
    ca_file = ca_file_beside(env_path)
    host = HostAddress.choose(args.host_port, args.host_key)
    # Served on the real clock, so the world is built "now" (its tokens valid from today).
    spec = WorldSpec(
        seed=args.seed, badges=args.badges, organisations=args.organisations, now=datetime.now(UTC)
    )
    try:
        world = build_world(spec)
        with local_stack(world, ca_file=ca_file, host=host, setup=not args.no_setup) as running:
            if running.setup is not None and not running.setup.ok:
                sys.stderr.write(
                    "setup failed against the stack:\n" + running.setup.render() + "\n"
                )
                return 1
            comments = [
                "The connector's settings for the local stack; valid while it runs.",
                f"Load them: set -a; . {_shown(env_path)}; set +a",
            ]
            try:
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


def _shown(path: Path) -> str:
    """The path as typed, with `./` when needed so `.` does not search PATH for it."""
    text = str(path)
    if not path.is_absolute() and "/" not in text:
        text = "./" + text
    return shlex.quote(text)


def summary(running: LocalStack, env_path: Path, written: Path) -> str:
    """What runs where, where the settings are, and what to run next."""
    world, host = running.world, running.host
    env = running.env
    port = "" if host.port == DEFAULT_HOST_PORT else f" --port {host.port}"
    orgs = ", ".join(world.credly.orgs[org_id].name for org_id in world.org_ids)
    setup = (
        "connection, schema, profile source and precedence set up"
        if running.setup is not None
        else "nothing set up yet: run setup"
    )
    lines = [
        "local stack running on 127.0.0.1 (Ctrl-C stops it):",
        f"  storage  Azurite, tables {running.azurite.endpoints.url('table')}",
        f"  Credly   {env['CREDLY_API_URL']} ({orgs}: {world.badge_count} badges);"
        f" webhooks go to {host.base_url}/{EVENTS_ROUTE}",
        f"  Graph    {env['GRAPH_API_URL']} ({len(world.directory)} users; {setup})",
        f"settings written to {written} (mode 0600)",
        "next, in another terminal:",
        f"  set -a; . {_shown(env_path)}; set +a",
        f"  .venv/bin/python -m devstack host --key {host.key}{port}",
        *([] if running.setup is not None else [f"  curl -X POST '{host.url('ops/setup')}'"]),
        f"  curl -X POST '{host.url('ops/crawls')}' -d '{{\"kind\": \"full\"}}'",
        "then make something happen at Credly or in Entra ID (the webhook reaches the host):",
        "  .venv/bin/python -m devstack change accept     (see: python -m devstack change -h)",
        "or without the host:",
        *([] if running.setup is not None else ["  .venv/bin/python -m credly_connector setup"]),
        "  .venv/bin/python -m credly_connector crawl --kind full     (also: health, status)",
        "",
    ]
    return "\n".join(lines)
