"""`python -m devstack stack`: Azurite and both stand-ins, set up, with the connector's settings.

The Graph stand-in serves HTTPS with a throwaway CA, so the connector authenticates the way it
does in production: an app secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`)
exchanged by azure-identity at the stand-in's token endpoint (the connector makes a loopback
Graph its own authority) for tokens it renews itself, for as long as the stack runs. The CA
file is written next to the settings file and named in `GRAPH_CA_FILE`.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from credly_connector.ops.setup import SetupReport, setup_report
from credly_connector.runtime import build_context
from credly_connector.settings import (
    DEFAULT_FULL_SCHEDULE,
    DEFAULT_INCREMENTAL_SCHEDULE,
    load_settings,
)
from devstack.azurite import Azurite
from devstack.connected import CONNECTION_ID, credly_settings
from devstack.credly.server import CredlyStandIn
from devstack.graph.server import GraphStandIn
from devstack.standin import Knobs, TlsIdentity
from devstack.synthetic import World
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
    control: WorldControl


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
    credly_knobs: Knobs | None = None,
    graph_knobs: Knobs | None = None,
) -> Iterator[LocalStack]:
    """Start Azurite and both stand-ins for `world`, aim Credly's webhooks at `host`.

    Args:
        world: The world the stand-ins serve.
        ca_file: Where to write the Graph stand-in's CA certificate (kept after the stack stops;
            it is public and the settings file names it).
        host: Where the Functions host will listen.
        setup: Run the connector's own setup (tables, queues, connection, schema, profile
            source, precedence) against the stack, so a crawl works at once.
        credly_knobs: The Credly API's knobs (fresh ones when None).
        graph_knobs: Graph's knobs (fresh ones when None).
    """
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="devstack-tls-")))
        tls = TlsIdentity.self_signed(scratch)
        ca_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tls.ca_file, ca_file)
        azurite = stack.enter_context(Azurite())
        credly = stack.enter_context(CredlyStandIn(world.credly, knobs=credly_knobs))
        graph = stack.enter_context(
            GraphStandIn(
                world.directory,
                tenant_id=world.tenant_id,
                tls=tls,
                knobs=graph_knobs,
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
        yield LocalStack(world, azurite, credly, graph, host, env, report, control)
