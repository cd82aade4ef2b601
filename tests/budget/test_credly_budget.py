"""One Credly budget per organisation across processes: the bound, a killed holder, the 429 gate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from credly_connector.budget.credly import budget_key
from credly_connector.budget.slot_store import SlotStore, SlotsUnavailableError
from credly_connector.budget.slots import SharedSlots, SlotPolicy
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite
from devstack.credly.server import CredlyStandIn
from devstack.standin import Fault, FaultKind
from devstack.standin.request_log import LoggedRequest
from devstack.synthetic import World
from tests.budget.worker_lines import read_line
from tests.credly.conftest import new_world, org_token

ROOT = Path(__file__).resolve().parents[2]
WORKER = "tests.budget.credly_budget_worker"


def most_in_flight(entries: list[LoggedRequest]) -> int:
    """The most requests the stand-in was serving at once (an answer ends before the next)."""
    edges = [(e.at, 1) for e in entries] + [(e.at + e.duration_s, -1) for e in entries]
    running = most = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        running += step
        most = max(most, running)
    return most


@pytest.fixture(scope="module")
def world() -> World:
    return new_world(seed=23)


@pytest.fixture(scope="module")
def running_standin(world: World) -> Iterator[CredlyStandIn]:
    with CredlyStandIn(world.credly) as credly:
        yield credly


@pytest.fixture
def credly(running_standin: CredlyStandIn) -> Iterator[CredlyStandIn]:
    yield running_standin
    running_standin.api.knobs.reset()
    running_standin.api.requests.clear()


@pytest.fixture
def workers(
    azurite: Azurite, storage_name: str, world: World, credly: CredlyStandIn
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start worker processes on one organisation's budget; every one is ended after the test."""
    started: list[subprocess.Popen[str]] = []
    base = {
        "storage": azurite.connection_string,
        "prefix": storage_name,
        "api_url": credly.api_url,
        "org": world.org_ids[0],
        "token": org_token(world),
    }

    def start(**config: Any) -> subprocess.Popen[str]:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", WORKER, json.dumps({**base, **config})],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


def start_together(processes: list[subprocess.Popen[str]]) -> None:
    """Wait until every worker is ready, then let them all go at once."""
    for process in processes:
        assert process.stdout is not None
        assert read_line(process.stdout) == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


def finished(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = read_line(process.stdout, timeout_s=120)
    assert process.wait(timeout=30) == 0
    return line


def test_processes_and_threads_never_exceed_the_organisations_concurrency(
    credly: CredlyStandIn, workers: Callable[..., subprocess.Popen[str]]
) -> None:
    # Given a slow Credly and three processes of three threads each, sharing two slots.
    credly.api.knobs.set_latency(0.15, "badges")
    processes = [
        workers(mode="pages", capacity=2, threads=3, pages=[1, 2, 3, 4], repeat=2) for _ in range(3)
    ]

    # When they all fetch pages at once.
    start_together(processes)

    # Then they all finish every page...
    assert [finished(process) for process in processes] == ["done 8"] * 3
    pages = credly.api.requests.entries("badges")
    assert len(pages) == 24
    assert {entry.status for entry in pages} == {200}
    # ...and Credly never had more than two of their requests in flight.
    assert 1 <= most_in_flight(pages) <= 2


def busiest_second(entries: list[LoggedRequest]) -> int:
    """The most requests that started within any one second."""
    starts = sorted(entry.at for entry in entries)
    return max(sum(1 for t in starts[i:] if t < start + 1.0) for i, start in enumerate(starts))


def test_processes_share_the_organisations_rate(
    credly: CredlyStandIn, workers: Callable[..., subprocess.Popen[str]]
) -> None:
    # Given three processes of two threads each sharing a rate of 8 requests per second.
    processes = [
        workers(mode="pages", capacity=4, threads=2, pages=[1, 2, 3, 4], repeat=3, rate=8)
        for _ in range(3)
    ]

    # When they all fetch pages at once.
    start_together(processes)

    # Then they all finish, and Credly saw about 8 a second from all of them together (the
    # first claim may start a second's block right away).
    assert [finished(process) for process in processes] == ["done 12"] * 3
    pages = credly.api.requests.entries("badges")
    assert len(pages) == 36
    assert busiest_second(pages) <= 8 + 3


def test_a_holder_killed_while_holding_a_slot_gives_it_back_within_its_lease(
    azurite: Azurite,
    storage_name: str,
    world: World,
    workers: Callable[..., subprocess.Popen[str]],
) -> None:
    # Given the organisation's only slot held by a process that renews its 2 s lease.
    holder = workers(mode="hold", capacity=1, lease_s=2.0)
    assert holder.stdout is not None
    assert read_line(holder.stdout) == "held"
    store = SlotStore(Tables.from_connection_string(azurite.connection_string, storage_name))
    key = budget_key(world.org_ids[0])
    impatient = SlotPolicy(lease_s=2.0, poll_cap_s=0.1, max_wait_s=5.0)
    # (Held past two leases: the holder renews it while it lives.)
    with pytest.raises(SlotsUnavailableError), SharedSlots(store, key, 1, impatient).hold():
        pass

    # When the holder is SIGKILLed.
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)

    # Then another process gets the slot once the lease ran out (bounded here by 20 s).
    patient = SlotPolicy(lease_s=2.0, poll_cap_s=0.1, max_wait_s=20.0)
    with SharedSlots(store, key, 1, patient).hold():
        assert store.look(key, 1).busy == 1
    assert store.look(key, 1).busy == 0


def test_a_429_to_one_process_holds_back_every_process_until_its_retry_after(
    credly: CredlyStandIn, workers: Callable[..., subprocess.Popen[str]]
) -> None:
    # Given three processes, each reading its own page over and over (so the log tells them
    # apart), and Credly answering the 15th page request with 429 and Retry-After: 3.
    credly.api.knobs.set_latency(0.02, "badges")
    fault = credly.api.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="badges", nth=15, status=429, retry_after=3)
    )
    processes = [
        workers(mode="pages", capacity=4, threads=1, pages=[page], repeat=25) for page in (1, 2, 3)
    ]

    # When they all read at once.
    start_together(processes)

    # Then they all finish...
    assert [finished(process) for process in processes] == ["done 25"] * 3
    assert fault.fired == 1
    entries = credly.api.requests.entries("badges")
    (throttled,) = [entry for entry in entries if entry.status == 429]
    answered = throttled.at + throttled.duration_s
    page_of = {entry.seq: entry.query.split("page=")[1].split("&")[0] for entry in entries}
    # ...every process was reading before the 429 and after its Retry-After...
    assert {page_of[e.seq] for e in entries if e.at < throttled.at} == {"1", "2", "3"}
    assert {page_of[e.seq] for e in entries if e.at > answered + 2.9} == {"1", "2", "3"}
    # ...and none of them sent anything inside it (0.5 s left for requests already on the way).
    inside = [e for e in entries if answered + 0.5 < e.at < answered + 2.9]
    assert inside == []
