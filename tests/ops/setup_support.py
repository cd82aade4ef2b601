"""Stacks for the setup and health tests: an unprovisioned Graph stand-in, two Credly ones."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from credly_connector.local.crawl import run_crawl
from credly_connector.ops.health import HealthReport, check_health
from credly_connector.ops.health_credly import CredlyEnvironment
from credly_connector.ops.setup import run_setup
from credly_connector.ops.setup_report import SchemaProgress, SetupReport
from credly_connector.pipeline.context import CrawlContext
from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from devstack.azurite import Azurite
from devstack.credly.records import CredlyData
from devstack.credly.server import CredlyStandIn
from devstack.graph.server import GraphStandIn
from devstack.synthetic import World, WorldSpec, build_world
from tests.pipeline.conftest import CRAWL_TIMEOUT_S

SETUP_CONNECTION = "credlybadges"
SETUP_WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
SETUP_ADMIN_ROUTES = frozenset({"connections", "schema", "operations", "profile"})
SETUP_TIMEOUT_S = 30.0


class SetupTime:
    """A monotonic clock that moves only when setup sleeps on it (also the Graph stand-in's)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class SetupStack:
    """A world on a Credly stand-in, an empty second Credly, an unprovisioned Graph, storage."""

    world: World
    credly: CredlyStandIn
    other_credly: CredlyStandIn
    graph: GraphStandIn
    env: dict[str, str]
    time: SetupTime
    progress: list[SchemaProgress] = field(default_factory=list)

    @property
    def organization_id(self) -> str:
        return self.world.org_ids[0]

    def context(self) -> CrawlContext:
        """A pipeline context built from the stack's settings, as the runtime builds it."""
        return build_context(load_settings(self.env))

    def setup(self, *, wait_s: float = 600.0, poll_s: float = 5.0) -> SetupReport:
        """Run setup through the runtime's Graph client, on the stack's fake time."""
        ctx = self.context()

        async def go() -> SetupReport:
            async with ctx.graph_session() as graph:
                return await run_setup(
                    graph,
                    ctx.options.connection_id,
                    ctx.options.web_url,
                    wait_s=wait_s,
                    poll_s=poll_s,
                    on_progress=self.progress.append,
                    sleep=self.time.sleep,
                    clock=self.time.clock,
                )

        return asyncio.run(asyncio.wait_for(go(), SETUP_TIMEOUT_S))

    def crawl_full(self) -> None:
        """Run a full crawl to completion through Azurite's queues."""
        result = run_crawl(self.context(), "full", workers=4, timeout_s=CRAWL_TIMEOUT_S)
        assert result.succeeded, result

    def admin_writes(self) -> int:
        """Writes the Graph stand-in saw on connections, schemas and people settings."""
        log = self.graph.server.requests
        return sum(
            log.count(route, method) for route in SETUP_ADMIN_ROUTES for method in SETUP_WRITES
        )

    def environments(
        self, *, credentials_in_sandbox: bool = False
    ) -> tuple[CredlyEnvironment, ...]:
        """Production and sandbox as two stand-ins: the world's, and an empty one."""
        names = ("sandbox", "production") if credentials_in_sandbox else ("production", "sandbox")
        return (
            CredlyEnvironment(names[0], self.credly.api_url, self.credly.web_url),
            CredlyEnvironment(names[1], self.other_credly.api_url, self.other_credly.web_url),
        )

    def health(self, env: dict[str, str] | None = None, **options: Any) -> HealthReport:
        """Health of the stack's settings (or `env`), its Credly environments the stand-ins."""
        options.setdefault("environments", self.environments())
        return check_health(self.env if env is None else env, **options)


def setup_json(report: HealthReport) -> str:
    """A health report as its HTTP body text (what an admin would see)."""
    return json.dumps(report.answer().body)


@pytest.fixture
def setup_stack(azurite: Azurite, storage_name: str) -> Iterator[Callable[..., SetupStack]]:
    """Build a setup stack (one per call; all stopped after the test)."""
    with ExitStack() as stacks:

        def make(
            *,
            badges: int = 30,
            seed: int = 5,
            oauth: bool = False,
            schema_delay_s: float = 0.0,
            **spec: Any,
        ) -> SetupStack:
            world = build_world(WorldSpec(seed=seed, badges=badges, now=datetime.now(UTC), **spec))
            time = SetupTime()
            credly = stacks.enter_context(CredlyStandIn(world.credly))
            other = stacks.enter_context(CredlyStandIn(CredlyData()))
            graph = stacks.enter_context(
                GraphStandIn(
                    world.directory,
                    tenant_id=world.tenant_id,
                    clock=time.clock,
                    schema_delay_s=schema_delay_s,
                )
            )
            org = world.credly.orgs[world.org_ids[0]]
            env = {
                "CREDLY_ORGANIZATION_ID": org.id,
                "CREDLY_API_URL": credly.api_url,
                "CREDLY_WEB_URL": credly.web_url,
                "GRAPH_API_URL": graph.graph_url,
                "GRAPH_CONNECTION_ID": SETUP_CONNECTION,
                "GRAPH_ACCESS_TOKEN": graph.token(),
                "AzureWebJobsStorage": azurite.connection_string,
                "STORAGE_PREFIX": storage_name,
            }
            if oauth:
                env["CREDLY_CLIENT_ID"] = org.oauth_apps[0].client_id
                env["CREDLY_CLIENT_SECRET"] = org.oauth_apps[0].client_secret
            else:
                env["CREDLY_AUTH_TOKEN"] = org.tokens[0].token
            return SetupStack(world, credly, other, graph, env, time)

        yield make
