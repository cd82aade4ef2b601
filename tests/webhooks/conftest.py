"""A connected stack whose webhook route is served by the local functions host.

The bound functions build their context from the process environment and refuse a storage
prefix (their queue triggers use fixed names), so these stacks use the fixed table and queue
names, emptied before each test, as `tests/pipeline/test_bindings.py` does.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import pytest
import requests

from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.queues import EVENTS, QUEUE_NAMES
from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from credly_connector.stores.tables import TABLE_NAMES
from devstack.azurite import Azurite
from devstack.connected import ConnectedStack, connected_stack
from devstack.host import FunctionsHost
from devstack.synthetic import Mutation, World, WorldSpec, build_world
from tests.pipeline.conftest import Pipeline, make_pipeline  # noqa: F401

KEY = "webhook-test-function-key"
WAIT_S = 30.0


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def reset_storage(ctx: CrawlContext) -> None:
    """Empty the fixed-name tables and queues (shared by every test of the session)."""
    for role in TABLE_NAMES:
        ctx.tables.service.delete_table(ctx.tables.name(role))
    ctx.tables.ensure()
    ctx.queues.ensure()
    for stage in QUEUE_NAMES:
        for poison in (False, True):
            ctx.queues.client(stage, poison=poison).clear_messages()


class BackgroundDispatcher:
    """The local dispatcher draining the queues in a thread, as the Functions host would."""

    def __init__(self, ctx: CrawlContext) -> None:
        self.dispatcher = LocalDispatcher(ctx, workers=2, retry_delay_s=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-dispatcher", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.dispatcher.run_until(self._stop.is_set, timeout_s=110)
        except BaseException as error:  # surfaced by the test through `error`
            self.error = error

    def handled(self) -> int:
        return self.dispatcher.stats.handled[EVENTS]

    def wait_handled(self, count: int) -> None:
        wait_until(lambda: self.handled() >= count or self.error is not None, "event handling")
        assert self.error is None, self.error
        assert self.dispatcher.stats.failed[EVENTS] == 0

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()


@dataclass
class WebhookStack:
    """A crawlable pipeline, and the function app's HTTP routes served by a functions host."""

    pipeline: Pipeline
    host: FunctionsHost

    @property
    def ctx(self) -> CrawlContext:
        return self.pipeline.ctx

    @property
    def world(self) -> World:
        return self.pipeline.world

    @property
    def stack(self) -> ConnectedStack:
        return self.pipeline.stack

    @property
    def org(self) -> str:
        return self.stack.organization_id

    def events_url(self, key: str | None = KEY) -> str:
        return self.host.url("credly/events", key=key, with_key=key is not None)

    def subscribe(self) -> None:
        """Register the webhook URL at Credly, as an admin would (`?code=` included)."""
        for org_id in self.world.org_ids:
            self.world.credly.orgs[org_id].webhook_url = self.events_url()

    def post(self, body: bytes | dict[str, Any], **kwargs: Any) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        url = kwargs.pop("url", None) or self.events_url()
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        return requests.post(url, data=data, headers=headers, timeout=10, **kwargs)

    def queued(self) -> int:
        return len(self.ctx.queues.client(EVENTS).peek_messages(max_messages=32))

    def dispatching(self) -> BackgroundDispatcher:
        return BackgroundDispatcher(self.ctx)

    def graph_changes(self) -> int:
        return self.pipeline.writes() + self.pipeline.deletes()

    def change_visibly(self, mutate: Callable[[], Mutation], tries: int = 40) -> Mutation:
        """Apply `mutate` until one application changes someone's expected item."""
        before = self.pipeline.expected()
        for _ in range(tries):
            mutation = mutate()
            if self.pipeline.expected() != before:
                return mutation
        raise AssertionError("no mutation changed an expected item")


def build_stack(
    stacks: ExitStack,
    azurite: Azurite,
    *,
    badges: int = 120,
    seed: int = 7,
    organisations: int = 1,
) -> WebhookStack:
    """A world, both stand-ins, emptied fixed-name storage and a functions host on it."""
    spec = WorldSpec(seed=seed, badges=badges, now=datetime.now(UTC), organisations=organisations)
    stack = stacks.enter_context(connected_stack(build_world(spec), azurite.connection_string))
    settings = load_settings(stack.env)
    ctx = build_context(settings)
    reset_storage(ctx)
    # HTTP only: the tests drain the events queue with their own dispatcher.
    host = stacks.enter_context(FunctionsHost(stack.env, key=KEY, timers=False, queues=False))
    return WebhookStack(Pipeline(stack, settings, ctx), host)


@pytest.fixture
def make_stack(azurite: Azurite) -> Iterator[Callable[..., WebhookStack]]:
    """Build a webhook stack for a world of `badges` (stopped after the test)."""
    with ExitStack() as stacks:

        def make(**options: Any) -> WebhookStack:
            return build_stack(stacks, azurite, **options)

        yield make


@contextlib.contextmanager
def delivering(stack: WebhookStack) -> Iterator[None]:
    """The Credly stand-in's webhook dispatcher running in the background."""
    with stack.stack.credly.webhooks:
        yield
