"""Run a scenario: Azurite, the stand-ins, the connector's context, the crawls, the figures.

The crawls go through `run_crawl`, the same local pipeline as `python -m credly_connector
crawl` (real queues and tables, the same handlers). The context is wired like
`runtime.build_context`, with the request observers of `runtime.Hooks` and Storage clients
that count their HTTP requests.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.counters import DiscardedConnections, RequestCounters, Tally
from bench.sampler import PeakSampler, cpu_s
from bench.scenarios import (
    CREDLY_PAGE_LATENCY_S,
    GRAPH_LATENCY_S,
    CrawlStep,
    Run,
    Scenario,
)
from bench.standins import CHILD, StackSpec, StandIns, running_standins
from credly_connector.graph.delta import DEFAULT_DELTA_PAGE_SIZE
from credly_connector.local.crawl import run_crawl
from credly_connector.local.progress import Progress
from credly_connector.pipeline.context import CrawlContext, utc_now
from credly_connector.runtime import Hooks, build_context
from credly_connector.settings import load_settings
from credly_connector.stores.crawls import CrawlRecord
from devstack.azurite import Azurite

TOLD, ADAPTIVE = "told", "adaptive"
ADAPTIVE_START_RATE = 1000.0
"""`GRAPH_WRITE_RATE` when the connector must find the limit itself (the most it accepts)."""


@dataclass(frozen=True)
class Options:
    """How to run: where the stand-ins live, how the connector paces its writes.

    Attributes:
        standins: `process` (a child process, the default) or `inline` (threads of this one).
        pacing: `told` (GRAPH_WRITE_RATE is the limit) or `adaptive` (it starts far above
            and must back off on 429s).
        workers: Handler threads of the local dispatcher (the CLI's default).
        timeout_s: A crawl that has not ended by then is recorded as timed out.
        progress: Show the crawl's progress line on stderr.
    """

    standins: str = CHILD
    pacing: str = TOLD
    workers: int = 4
    timeout_s: float = 3600.0
    progress: bool = False


@dataclass
class CrawlResult:
    """The figures of one crawl (the issue's fields first, then what explains them)."""

    fields: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The issue's fields, with the details under `details`."""
        return {**self.fields, "details": self.details}


@dataclass(frozen=True)
class Measured:
    """What one crawl left behind: its record and the instruments' readings."""

    record: CrawlRecord | None
    timed_out: bool
    wall_s: float
    started: float
    tally: Tally
    peaks: dict[str, float]
    cpu: dict[str, float]
    queue_sent: int
    graph: dict[str, Any]
    connections_discarded: int


class ShiftedClock:
    """The connector's clock: real UTC time plus a settable number of hours."""

    def __init__(self) -> None:
        self.ahead_h = 0.0

    def __call__(self) -> datetime:
        return utc_now() + timedelta(hours=self.ahead_h)


def build_bench_context(
    env: dict[str, str], counters: RequestCounters, clock: ShiftedClock
) -> CrawlContext:
    """The connector's context for `env`, as `build_context` wires it, with counting clients."""
    hooks = Hooks(
        credly_request=counters.credly_request,
        graph_request=counters.graph_request,
        table_response=counters.table_response,
        queue_response=counters.queue_response,
    )
    return build_context(load_settings(env), clock=clock, hooks=hooks)


def run_scenario(
    scenario: Scenario,
    options: Options,
    azurite: Azurite,
    on_result: Callable[[CrawlResult], None] | None = None,
) -> list[CrawlResult]:
    """Every run of `scenario`, each on a fresh stack; the results of every crawl.

    Args:
        on_result: Told of each crawl's result as soon as it is measured (partial reports).
    """
    results: list[CrawlResult] = []
    for run in scenario.runs:
        for result in _run(scenario, run, options, azurite):
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def _run(scenario: Scenario, run: Run, options: Options, azurite: Azurite) -> Iterator[CrawlResult]:
    prefix = "bench" + uuid.uuid4().hex[:10]
    spec = StackSpec(
        seed=scenario.seed,
        badges=scenario.badges,
        storage=azurite.connection_string,
        prefix=prefix,
        credly_latency_s=CREDLY_PAGE_LATENCY_S,
        graph_latency_s=GRAPH_LATENCY_S,
        write_limit=run.write_limit,
        env={"GRAPH_WRITE_RATE": f"{write_rate(options, run):g}"},
    )
    with running_standins(options.standins, spec) as standins:
        counters = RequestCounters(prefix)
        clock = ShiftedClock()
        ctx = build_bench_context(standins.facts["env"], counters, clock)
        # Created once before any timing, as setup does in a deployment.
        ctx.tables.ensure()
        ctx.queues.ensure()
        pids = {"pipeline": None, "standins": standins.pid, "azurite": azurite.pid}
        with PeakSampler(pids) as sampler, DiscardedConnections() as discarded:
            session = RunSession(ctx, run, options, standins, counters, clock, sampler, discarded)
            for number, step in enumerate(run.crawls):
                yield session.crawl(step, first=number == 0)


@dataclass
class RunSession:
    """One run's stack, context and instruments; measures its crawls one after the other."""

    ctx: CrawlContext
    run: Run
    options: Options
    standins: StandIns
    counters: RequestCounters
    clock: ShiftedClock
    sampler: PeakSampler
    discarded: DiscardedConnections

    def crawl(self, step: CrawlStep, *, first: bool) -> CrawlResult:
        """Change the world as `step` says, run the crawl, and collect its figures."""
        changed = 0
        if step.change_fraction:
            count = max(1, round(self.standins.facts["badges"] * step.change_fraction))
            changed = self.standins.change_badges(count, seed=len(step.label))
        self.clock.ahead_h = step.clock_ahead_h
        pids = self.sampler.pids
        cpu_before = {name: cpu_s(pid) for name, pid in pids.items()}
        sent_before = self.ctx.queues.sent
        discarded_before = self.discarded.count
        self.counters.reset()
        self.sampler.take_peaks()
        started = time.monotonic()
        outcome = run_crawl(
            self.ctx,
            step.kind,
            workers=self.options.workers,
            timeout_s=self.options.timeout_s,
            progress=Progress() if self.options.progress else None,
        )
        wall_s = time.monotonic() - started
        tally = self.counters.reset()
        peaks = self.sampler.take_peaks()
        cpu = {name: cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
        measured = Measured(
            outcome.record,
            outcome.timed_out,
            wall_s,
            started,
            tally,
            peaks,
            cpu,
            self.ctx.queues.sent - sent_before,
            self.standins.snapshot(),
            self.discarded.count - discarded_before,
        )
        return self._result(step, measured, changed=changed, first=first)

    def _result(
        self, step: CrawlStep, measured: Measured, *, changed: int, first: bool
    ) -> CrawlResult:
        run, facts, tally = self.run, self.standins.facts, measured.tally
        record = measured.record
        wall_s = measured.wall_s
        started = measured.started
        counts: dict[str, Any] = record.counts if record is not None else {}
        pages = (record.total_pages or 0) if record is not None else 0
        people = int(counts.get("people_written", 0)) + int(counts.get("people_deleted", 0))
        paging_s = pages * CREDLY_PAGE_LATENCY_S
        lower_bound_s = max(people / run.write_limit, paging_s)
        fields = {
            "kind": step.kind,
            "badges": int(counts.get("badges_seen", 0)),
            "people": people,
            "wall_s": round(wall_s, 3),
            "graph_write_limit_per_s": run.write_limit,
            "lower_bound_s": round(lower_bound_s, 3),
            "efficiency": round(lower_bound_s / wall_s, 4) if wall_s > 0 else 0.0,
            "graph_writes": tally.graph_writes,
            "graph_429": tally.graph_429,
            "graph_reads": tally.graph_reads,
            "credly_requests": tally.credly,
            "table_ops": sum(tally.table_ops.values()),
            "queue_messages": measured.queue_sent,
            "peak_rss_mb": round(measured.peaks["pipeline"], 1),
            "cpu_s": round(measured.cpu["pipeline"], 2),
        }
        details = {
            "label": step.label,
            "status": record.status if record is not None else "not started",
            "timed_out": measured.timed_out,
            "first_in_run": first,
            "pages": pages,
            "credly_paging_s": round(paging_s, 3),
            "badges_changed_at_credly": changed,
            "organisation_badges": facts["badges"],
            "organisation_people": facts["people"],
            "organisations": facts["organisations"],
            "directory_users": facts["directory_users"],
            "directory_pages": math.ceil(facts["directory_users"] / DEFAULT_DELTA_PAGE_SIZE),
            "crawl_counts": counts,
            "graph_items": measured.graph["items"],
            "graph_items_changed": measured.graph["items_changed"],
            "graph_other_answers": tally.graph_other,
            "graph_write_rate_setting": write_rate(self.options, run),
            "queue_received": tally.queue_received,
            "http_connections_discarded": measured.connections_discarded,
            "queue_requests": dict(tally.queue_ops),
            "table_ops_by_stage": dict(tally.table_by_stage),
            "table_ops_by_table": dict(sorted(tally.table_ops.items())),
            "stage_windows_s": _windows(tally, started),
            "writes_per_s": per_second(tally.write_times, started, wall_s),
            "throttles_per_s": per_second(tally.throttle_times, started, wall_s),
            "peak_rss_mb": {name: round(value, 1) for name, value in measured.peaks.items()},
            "cpu_s": {name: round(value, 2) for name, value in measured.cpu.items()},
            "clock_ahead_h": step.clock_ahead_h,
        }
        return CrawlResult(fields, details)


def write_rate(options: Options, run: Run) -> float:
    """The GRAPH_WRITE_RATE the connector was given in this run."""
    return run.write_limit if options.pacing == TOLD else ADAPTIVE_START_RATE


def per_second(times: list[float], started: float, wall_s: float) -> list[int]:
    """How many of `times` fall in each whole second after `started`."""
    bins = [0] * max(1, math.ceil(wall_s))
    for at in times:
        index = min(len(bins) - 1, max(0, int(at - started)))
        bins[index] += 1
    return bins


def _windows(tally: Tally, started: float) -> dict[str, list[float]]:
    return {
        stage: [round(first - started, 2), round(last - started, 2)]
        for stage, (first, last) in sorted(tally.stage_windows.items())
    }
