"""Shared fixtures: one Azurite per test session, and per-test storage names."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from devstack.azurite import Azurite

# CI explores the same examples every run (a red build must be reproducible); locally each run
# explores new ones, and the .hypothesis database replays any failure found before.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """The project's Azurite, started once for the session and stopped at its end."""
    with Azurite() as running:
        yield running


@pytest.fixture
def storage_name() -> str:
    """A fresh table/queue name (alphanumeric, starts with a letter) for one test."""
    return "t" + uuid.uuid4().hex[:20]


def _children_of(pid: int) -> list[int]:
    """Live child processes of `pid` (Linux /proc)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat", encoding="utf-8").read()  # noqa: SIM115
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state != "Z":
            children.append(int(entry))
    return children


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test left a process behind (Azurite or anything else)."""
    leftovers = _children_of(os.getpid())
    if leftovers:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        sys.stderr.write(f"\nerror: tests left processes behind: {leftovers}\n")


@pytest.fixture(scope="session")
def indexed_functions() -> dict[str, Any]:
    """The Functions app's functions by name (the SDK lets an app index itself only once)."""
    import function_app

    return {str(f.get_function_name()): f for f in function_app.app.get_functions()}
