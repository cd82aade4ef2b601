"""One Graph write budget across OS processes on Azurite, against a stand-in limited to 25/s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.azurite import Azurite
from devstack.graph.directory import Directory
from devstack.graph.server import GraphStandIn
from devstack.standin import RateLimit
from devstack.standin.request_log import LoggedRequest
from tests.budget.worker_lines import read_line
from tests.graph.conftest import CONNECTION, create_people_connection

ROOT = Path(__file__).resolve().parents[2]
WORKER = "tests.budget.graph_writer_worker"
LIMIT = 25.0


def busiest_window(times: list[float], seconds: float = 5.0) -> int:
    """The most requests in any window of `seconds`."""
    ordered = sorted(times)
    return max((sum(t <= u < t + seconds for u in ordered) for t in ordered), default=0)


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn(Directory(), schema_delay_s=0) as standin:
        yield standin


@pytest.fixture
def workers(
    azurite: Azurite, storage_name: str, graph: GraphStandIn
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start writer processes on one connection's budget; every one is ended after the test."""
    connection = create_people_connection(graph)
    graph.knobs.set_rate_limit("items", RateLimit(per_second=LIMIT))
    started: list[subprocess.Popen[str]] = []
    base = {
        "storage": azurite.connection_string,
        "prefix": storage_name,
        "graph_url": graph.graph_url,
        "token": graph.token(),
        "connection": connection,
    }

    def start(name: str, **config: Any) -> subprocess.Popen[str]:
        process = subprocess.Popen(  # noqa: S603 - our own worker module
            [sys.executable, "-m", WORKER, json.dumps({**base, "name": name, **config})],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def item_writes(graph: GraphStandIn) -> list[LoggedRequest]:
    return graph.server.requests.entries(route_class="items", method="PUT")


def outcome(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    assert read_line(process.stdout) == "ready"
    result: dict[str, Any] = json.loads(read_line(process.stdout))
    assert process.wait(timeout=30) == 0
    return result


def test_processes_told_the_limit_keep_to_it_together(
    graph: GraphStandIn, workers: Callable[..., subprocess.Popen[str]]
) -> None:
    # given: three processes told the connection's limit (GRAPH_WRITE_RATE = 25)
    processes = [workers(f"p{n}", count=120, ceiling=LIMIT) for n in range(3)]

    # when: each writes 120 items
    results = [outcome(process) for process in processes]

    # then: every item is there, written at the fleet's limit, not 3 x 25/s
    assert sum(r["written"] for r in results) == 360
    assert len(graph.state.connectors.items(CONNECTION)) == 360
    writes = item_writes(graph)
    refused = [w for w in writes if w.status == 429]
    busiest = busiest_window([w.at for w in writes])
    assert len(refused) <= 0.05 * len(writes)
    assert busiest <= 1.1 * 5 * LIMIT
    # and: coordination cost at most one storage operation per 10 item writes
    assert sum(r["operations"] for r in results) <= len(writes) / 10


def test_processes_find_the_limit_without_being_told(
    graph: GraphStandIn, workers: Callable[..., subprocess.Popen[str]]
) -> None:
    # given: three processes without GRAPH_WRITE_RATE, starting at 10 writes/s
    processes = [workers(f"p{n}", count=150) for n in range(3)]

    results = [outcome(process) for process in processes]

    # then: every item is there, few were refused, and the fleet went above its start rate
    assert sum(r["written"] for r in results) == 450
    writes = item_writes(graph)
    accepted = sorted(w.at for w in writes if w.status != 429)
    assert len(writes) - len(accepted) <= 0.05 * len(writes)
    assert busiest_window(accepted) >= 0.9 * 5 * LIMIT
    # (blocks are smaller while the rate ramps up from 10/s, so claims are more frequent)
    assert sum(r["operations"] for r in results) <= len(writes) / 8


def test_a_process_killed_holding_budget_does_not_stop_the_others(
    graph: GraphStandIn, workers: Callable[..., subprocess.Popen[str]]
) -> None:
    # given: three processes writing at the limit, all of them under way
    victim, *others = [workers(f"p{n}", count=100, ceiling=LIMIT) for n in range(3)]
    for process in (victim, *others):
        assert process.stdout is not None
        assert read_line(process.stdout) == "ready"
    time.sleep(1.0)

    # when: one is SIGKILLed while it holds claimed permits
    victim.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    assert victim.wait(timeout=30) == -signal.SIGKILL

    # then: the others finish every item of theirs
    results = []
    for process in others:
        assert process.stdout is not None
        results.append(json.loads(read_line(process.stdout)))
        assert process.wait(timeout=30) == 0
    assert sum(r["written"] for r in results) == 200
    names = set(graph.state.connectors.items(CONNECTION))
    assert {f"p{p}x{n}" for p in (1, 2) for n in range(100)} <= names
    # and: they went on within seconds: the dead process's permits (its running block and
    # at most one queued, 1.5 s each) are the longest pause the others may see
    after = sorted(w.at for w in item_writes(graph) if w.status != 429 and w.at >= killed_at)
    gaps = [b - a for a, b in zip([killed_at, *after], after, strict=False)]
    assert max(gaps) < 5.0
