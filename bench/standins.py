"""The stand-ins a benchmark run talks to: in this process, or in a child process of their own.

Both give the connector's settings (`facts["env"]`), change badges at Credly and snapshot
what Graph holds. In this process the stand-ins' handler threads share the pipeline's GIL;
in a child (the default) they do not, and the pipeline's memory is measured alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from bench.standin_host import knobs_for, stack_facts
from bench.world_ops import ItemLedger, change_badges
from devstack.connected import connected_stack
from devstack.synthetic import WorldSpec, build_world

REPO_ROOT = Path(__file__).resolve().parent.parent
INLINE, CHILD = "inline", "process"
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class StackSpec:
    """What to serve: the world's recipe, the stand-ins' latencies and the write limit."""

    seed: int
    badges: int
    storage: str
    prefix: str
    credly_latency_s: float
    graph_latency_s: float
    write_limit: float | None
    env: dict[str, str]
    retry_after: bool = True

    def to_json(self) -> dict[str, Any]:
        """The spec as `bench.standin_host` reads it (the world built "now")."""
        return {
            "seed": self.seed,
            "badges": self.badges,
            "now": datetime.now(UTC).isoformat(),
            "storage": self.storage,
            "prefix": self.prefix,
            "credly_latency_s": self.credly_latency_s,
            "graph_latency_s": self.graph_latency_s,
            "write_limit": self.write_limit,
            "env": self.env,
            "retry_after": self.retry_after,
        }


class StandIns(Protocol):
    """A running pair of stand-ins, seen from the benchmark."""

    facts: dict[str, Any]
    pid: int | None

    def change_badges(self, count: int, seed: int) -> int:
        """Change `count` badges at Credly; how many were changed."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Items Graph holds, and how many changed since the last snapshot."""
        ...


class InlineStandIns:
    """Stand-ins served by threads of this process."""

    def __init__(self, facts: dict[str, Any], world: Any, ledger: ItemLedger) -> None:
        self.facts = facts
        self.pid: int | None = None
        self._world = world
        self._ledger = ledger

    def change_badges(self, count: int, seed: int) -> int:
        """Change badges in this process's world."""
        return change_badges(self._world, count, seed)

    def snapshot(self) -> dict[str, Any]:
        """Read this process's Graph stand-in."""
        return self._ledger.snapshot()


class ChildStandIns:
    """Stand-ins served by `python -m bench.standin_host`, driven over its stdin/stdout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self.pid: int | None = process.pid
        self.facts = self._read()

    def _read(self) -> dict[str, Any]:
        out: IO[str] | None = self._process.stdout
        assert out is not None
        line = out.readline()
        if not line:
            code = self._process.wait()
            raise RuntimeError(f"the stand-in process ended (exit code {code})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command to the child (see `bench.standin_host`); its answer."""
        return self._ask(command)

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        return self._read()

    def change_badges(self, count: int, seed: int) -> int:
        """Change badges in the child's world."""
        return int(self._ask({"op": "change", "count": count, "seed": seed})["applied"])

    def snapshot(self) -> dict[str, Any]:
        """Read the child's Graph stand-in."""
        return self._ask({"op": "snapshot"})

    def stop(self) -> None:
        """Ask the child to stop; end it (by its pid) if it does not in time."""
        process = self._process
        if process.poll() is None and process.stdin is not None:
            try:
                process.stdin.write(json.dumps({"op": "stop"}) + "\n")
                process.stdin.close()
            except OSError:
                pass
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def running_standins(mode: str, spec: StackSpec) -> Iterator[StandIns]:
    """Start the stand-ins for `spec` (in this process or a child) and stop them on exit."""
    if mode == INLINE:
        payload = spec.to_json()
        world = build_world(
            WorldSpec(
                seed=spec.seed, badges=spec.badges, now=datetime.fromisoformat(payload["now"])
            )
        )
        with connected_stack(
            world,
            spec.storage,
            prefix=spec.prefix,
            credly_knobs=knobs_for(spec.credly_latency_s),
            graph_knobs=knobs_for(
                spec.graph_latency_s, spec.write_limit, retry_after=spec.retry_after
            ),
            extra_env=spec.env,
        ) as stack:
            yield InlineStandIns(stack_facts(stack), world, ItemLedger(stack.graph))
        return
    # Our own interpreter and module, with a JSON argument we built.
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bench.standin_host", json.dumps(spec.to_json())],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child = ChildStandIns(process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    try:
        yield child
    finally:
        child.stop()
