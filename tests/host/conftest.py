"""Host-test wiring: a stack of its own per test (Azurite, both stand-ins) and hosts on it.

The app's bindings use fixed queue names and refuse a storage prefix, so every test gets a
fresh Azurite instead of a prefix on the session's shared one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from devstack.azurite import Azurite
from devstack.connected import connected_stack
from devstack.host import FunctionsHost
from devstack.synthetic import WorldSpec, build_world
from tests.pipeline.conftest import CRAWL_TIMEOUT_S, Pipeline

# The app's host.json, with short waits so a test does not sit out a 10 s polling interval
# or a 30 s retry delay.
TEST_QUEUES: dict[str, Any] = {
    "batchSize": 16,
    "newBatchThreshold": 8,
    "maxDequeueCount": 3,
    "visibilityTimeout": "00:00:01",
    "maxPollingInterval": "00:00:01",
    "messageEncoding": "base64",
}
FAST_WRITES = {"GRAPH_WRITE_RATE": "1000"}
ENDED = {"succeeded", "failed", "cancelled"}


def write_host_json(path: Path, **queues: Any) -> Path:
    """A host.json with the test queue options (and `queues` overriding some)."""
    document = {
        "version": "2.0",
        "functionTimeout": "00:05:00",
        "extensions": {"queues": {**TEST_QUEUES, **queues}},
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@dataclass
class HostStack:
    """A connected stack on its own Azurite, and the means to run hosts on it."""

    pipeline: Pipeline
    azurite: Azurite
    host_json: Path
    stacks: ExitStack

    @property
    def env(self) -> dict[str, str]:
        return self.pipeline.stack.env

    def host(self, **options: Any) -> FunctionsHost:
        """A started host on this stack (stopped after the test)."""
        options.setdefault("host_json", self.host_json)
        options.setdefault("message_lease_s", 8.0)
        options.setdefault("drain_timeout_s", 15.0)
        return self.stacks.enter_context(FunctionsHost(self.env, **options))

    def request_crawl(self, host: FunctionsHost, kind: str = "full") -> str:
        """`POST /api/ops/crawls` as an administrator would; the new crawl's id."""
        answer = requests.post(host.url("ops/crawls"), json={"kind": kind}, timeout=30)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def crawl_status(self, host: FunctionsHost, crawl_id: str) -> dict[str, Any]:
        answer = requests.get(host.url(f"ops/crawls/{crawl_id}"), timeout=30)
        assert answer.status_code in {200, 409}, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def wait_crawl(
        self, host: FunctionsHost, crawl_id: str, timeout_s: float = CRAWL_TIMEOUT_S
    ) -> dict[str, Any]:
        """Poll `GET /api/ops/crawls/{id}` until the crawl ended; its last status."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                status = self.crawl_status(host, crawl_id)
            except requests.ConnectionError:  # instance 0 being replaced: ask again
                status = {"status": "unknown"}
            if status["status"] in ENDED:
                return status
            assert time.monotonic() < deadline, f"crawl {crawl_id} did not end: {status}"
            time.sleep(0.2)


@pytest.fixture
def make_host_stack(tmp_path: Path) -> Iterator[Callable[..., HostStack]]:
    """Build a stack for a world of `badges` on a fresh Azurite (stopped after the test)."""
    with ExitStack() as stacks:

        def make(
            *,
            badges: int = 120,
            seed: int = 7,
            env: dict[str, str] | None = None,
            queues: dict[str, Any] | None = None,
            **knobs: Any,
        ) -> HostStack:
            azurite = stacks.enter_context(Azurite())
            spec = WorldSpec(seed=seed, badges=badges, now=datetime.now(UTC))
            stack = stacks.enter_context(
                connected_stack(
                    build_world(spec),
                    azurite.connection_string,
                    extra_env={**FAST_WRITES, **(env or {})},
                    **knobs,
                )
            )
            settings = load_settings(stack.env)
            pipeline = Pipeline(stack, settings, build_context(settings))
            host_json = write_host_json(tmp_path / "host.json", **(queues or {}))
            return HostStack(pipeline, azurite, host_json, stacks)

        yield make


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
