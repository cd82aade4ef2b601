"""Fixtures of the security tests: the bound functions over a crawled world, storage snapshots.

The bound functions build their context from the process environment and refuse a storage
prefix, so the bound world uses the fixed table and queue names (emptied first), as the other
binding tests do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest

import function_app
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.queues import QUEUE_NAMES
from credly_connector.settings import load_settings
from credly_connector.stores.overrides import OverrideRecord
from credly_connector.stores.tables import TABLE_NAMES
from devstack.azurite import Azurite
from devstack.connected import connected_stack
from devstack.synthetic import WorldSpec, build_world
from tests.pipeline.conftest import Pipeline, make_pipeline  # noqa: F401 - re-exported fixture
from tests.webhooks.conftest import reset_storage

BASE = "https://connector.example/api"
OVERRIDDEN_EMAIL = "legit.person@example.org"


def storage_state(ctx: CrawlContext) -> dict[str, Any]:
    """Every row of every table (ETags included, so a rewrite shows) and every queue's depth."""
    state: dict[str, Any] = {}
    for role in TABLE_NAMES:
        rows = ctx.tables.table(role).list_entities()
        state[role] = sorted(
            (e["PartitionKey"], e["RowKey"], e.metadata["etag"], repr(sorted(e.items())))
            for e in rows
        )
    for stage in QUEUE_NAMES:
        for poison in (False, True):
            queue = ctx.queues.client(stage, poison=poison)
            state[queue.queue_name] = queue.get_queue_properties().approximate_message_count
    return state


@dataclass
class Bound:
    """A crawled world behind the bound functions, and a way to call them by name."""

    pipeline: Pipeline
    functions: dict[str, Any]

    @property
    def ctx(self) -> CrawlContext:
        return function_app.context()

    def call(
        self,
        name: str,
        method: str,
        *,
        body: bytes | Any = b"",
        route: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        path: str = "ops",
    ) -> func.HttpResponse:
        """Send one request to the function `name` (a non-bytes body is sent as JSON)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = func.HttpRequest(
            method,
            f"{BASE}/{path}",
            body=data,
            route_params=route or {},
            params=params or {},
            headers=headers or {},
        )
        response: func.HttpResponse = self.functions[name].get_user_function()(request)
        return response

    def state(self) -> dict[str, Any]:
        """The storage state, and how many items Graph has written and deleted."""
        return {
            **storage_state(self.ctx),
            "graph writes": self.pipeline.writes(),
            "graph deletes": self.pipeline.deletes(),
        }


@pytest.fixture(scope="module")
def bound(azurite: Azurite, indexed_functions: dict[str, Any]) -> Iterator[Bound]:
    """A crawled world of 80 badges behind the bound functions, with one identity override."""
    world = build_world(WorldSpec(seed=23, badges=80, now=datetime.now(UTC)))
    with (
        connected_stack(world, azurite.connection_string) as stack,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in stack.env.items():
            patch.setenv(name, value)
        # The bindings build their context once per process; start from none for this module.
        patch.setattr(function_app, "_context", None)
        ctx = function_app.context()
        reset_storage(ctx)
        pipeline = Pipeline(stack, load_settings(stack.env), ctx)
        assert pipeline.crawl("full").succeeded
        upn = world.directory.users()[0].user_principal_name
        ctx.identity_overrides.put(OverrideRecord(OVERRIDDEN_EMAIL, upn, "test", ctx.clock()))
        yield Bound(pipeline, indexed_functions)
