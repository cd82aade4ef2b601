"""A connected stack per test: a world, both stand-ins, Azurite tables and queues."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from credly_connector.local.crawl import LocalCrawl, run_crawl
from credly_connector.pipeline.context import CrawlContext
from credly_connector.runtime import build_context
from credly_connector.settings import Settings, load_settings
from devstack.azurite import Azurite
from devstack.connected import CONNECTION_ID, ConnectedStack, connected_stack
from devstack.synthetic import World, WorldSpec, build_world
from tests.pipeline.oracle import expected_items, stored_items

# Generous: a crawl here takes seconds, but a loaded 2-core machine can stretch it a lot.
CRAWL_TIMEOUT_S = 240.0


@dataclass
class Pipeline:
    """A provisioned stack and a pipeline context pointed at it."""

    stack: ConnectedStack
    settings: Settings
    ctx: CrawlContext

    @property
    def world(self) -> World:
        return self.stack.world

    def crawl(self, kind: str, organization_id: str | None = None) -> LocalCrawl:
        result = run_crawl(
            self.ctx,
            kind,
            organization_id=organization_id,
            workers=4,
            timeout_s=CRAWL_TIMEOUT_S,
        )
        assert not result.timed_out, result
        return result

    def expected(self, **options: Any) -> dict[str, dict[str, Any]]:
        return expected_items(
            self.world,
            now=datetime.now(UTC),
            web_url=self.settings.credly.web_url,
            **options,
        )

    def stored(self) -> dict[str, dict[str, Any]]:
        return stored_items(self.stack.graph, CONNECTION_ID)

    def writes(self) -> int:
        return self.stack.graph.state.connectors.write_count(CONNECTION_ID)

    def deletes(self) -> int:
        return self.stack.graph.state.connectors.delete_count(CONNECTION_ID)


@pytest.fixture
def make_pipeline(azurite: Azurite, storage_name: str) -> Iterator[Callable[..., Pipeline]]:
    """Build a pipeline for a world of `badges` (one per test; stopped afterwards)."""
    with ExitStack() as stacks:

        def make(
            *,
            badges: int = 240,
            seed: int = 7,
            organisations: int = 1,
            env: dict[str, str] | None = None,
            **knobs: Any,
        ) -> Pipeline:
            spec = WorldSpec(
                seed=seed, badges=badges, now=datetime.now(UTC), organisations=organisations
            )
            world = build_world(spec)
            stack = stacks.enter_context(
                connected_stack(
                    world,
                    azurite.connection_string,
                    prefix=storage_name,
                    extra_env=env,
                    **knobs,
                )
            )
            settings = load_settings(stack.env)
            return Pipeline(stack, settings, build_context(settings))

        yield make
