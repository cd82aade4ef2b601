"""The main job's self-check, and the promise that the whole stack listens on loopback only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstack.azurite import Azurite
from devstack.credly.server import CredlyStandIn
from devstack.graph.server import GraphStandIn
from devstack.selfcheck import format_report, run_selfcheck
from devstack.synthetic import WorldSpec, build_world

pytestmark = pytest.mark.azurite

LISTEN = "0A"


def _listening_addresses(pid: int) -> set[str]:
    """Local addresses (hex `ip:port` as /proc shows them) of the process's listening sockets."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == LISTEN and inode in inodes:
                found.add(local)
    return found


def test_selfcheck_passes_and_reports_each_part() -> None:
    results = run_selfcheck(badges=60)
    assert [r.name for r in results] == ["azurite", "credly", "graph"]
    assert all(r.ok for r in results), format_report(results)
    assert format_report(results).splitlines()[-1] == "selfcheck: 3 passed, 0 failed"


def test_every_listening_socket_is_on_loopback() -> None:
    world = build_world(WorldSpec(seed=3, badges=40))
    with (
        Azurite() as azurite,
        CredlyStandIn(world.credly) as credly,
        GraphStandIn(world.directory, tenant_id=world.tenant_id) as graph,
    ):
        assert azurite.pid is not None
        ours = _listening_addresses(os.getpid())
        theirs = _listening_addresses(azurite.pid)
        expected_ports = {credly.api.port, credly.web.port, graph.server.port}
        assert {int(a.split(":")[1], 16) for a in ours} >= expected_ports
        assert len(theirs) == 3
        for address in ours | theirs:
            assert address.split(":")[0] == "0100007F", f"{address} is not 127.0.0.1"
