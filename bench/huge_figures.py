"""The `huge` scenario's figures: stages from the host's invocation log, memory per process.

Pure functions over plain values (invocation records, RSS peaks, a crawl's measured dict), so
the target lines are tested without a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bench.scenarios import CREDLY_PAGE_LATENCY_S, FULL, INCREMENTAL
from bench.targets import Verdict
from devstack.credly.paging import PER_PAGE
from devstack.host.invocation_log import FAILED, TIMED_OUT, InvocationRecord

STAGES = ("start", "pages", "plan", "profiles", "finish")
"""The crawl's stages in their order; other functions seen in a crawl follow, by name."""
STAGE_PREFIX = "crawl_"
RSS_TARGET_MB = 300.0
LONGEST_TARGET_S = 60.0
EFFICIENCY_TARGET = 0.4
EFFICIENCY_LIMIT = 400.0
EFFICIENCY_INSTANCES = 2
INSTANCE = "instance"
"""Process names of the host's instances start with this; the RSS target is theirs."""


def stage_of(function: str) -> str:
    """`crawl_pages` -> `pages`; a function outside the crawl's stages keeps its name."""
    return function.removeprefix(STAGE_PREFIX)


def crawl_invocations(
    records: Iterable[InvocationRecord], started: float, ended: float
) -> list[InvocationRecord]:
    """The invocations that began between `started` and `ended` (monotonic clock)."""
    return [r for r in records if started <= r.start_monotonic <= ended]


def stage_figures(records: Iterable[InvocationRecord], started: float) -> dict[str, dict[str, Any]]:
    """Per stage: invocations, wall time (first start to last end), busy and longest seconds.

    Args:
        records: One crawl's invocations.
        started: When the crawl was requested (monotonic clock); offsets are from it.

    Returns the stages in the crawl's order (those with no invocation left out).
    """
    grouped: dict[str, list[InvocationRecord]] = {}
    for record in records:
        grouped.setdefault(stage_of(record.function), []).append(record)
    order = [s for s in STAGES if s in grouped] + sorted(set(grouped) - set(STAGES))
    figures: dict[str, dict[str, Any]] = {}
    for stage in order:
        runs = grouped[stage]
        first = min(r.start_monotonic for r in runs)
        last = max(r.end_monotonic for r in runs)
        longest = max(runs, key=lambda r: r.duration_s)
        figures[stage] = {
            "invocations": len(runs),
            "first_start_s": round(first - started, 2),
            "last_end_s": round(last - started, 2),
            "wall_s": round(last - first, 2),
            "busy_s": round(sum(r.duration_s for r in runs), 3),
            "longest_s": round(longest.duration_s, 3),
            "longest_instance": longest.instance,
            "longest_detail": longest.detail,
            "failed": sum(1 for r in runs if r.outcome == FAILED),
            "timed_out": sum(1 for r in runs if r.outcome == TIMED_OUT),
            "instances": sorted({r.instance for r in runs}),
        }
    return figures


def longest_invocation(stages: dict[str, dict[str, Any]]) -> tuple[str, float]:
    """The stage of the crawl's longest single invocation and its seconds (`-`, 0: none)."""
    if not stages:
        return "-", 0.0
    stage = max(stages, key=lambda name: stages[name]["longest_s"])
    return stage, float(stages[stage]["longest_s"])


def instance_names(records: Iterable[InvocationRecord]) -> dict[int, str]:
    """`pid -> "instance 1"`: which host instance each process was (from the log)."""
    return {r.pid: f"{INSTANCE} {r.instance}" for r in records}


class InstanceNames:
    """Which host instance each process is: by its place when the fleet started, else the log's.

    The log names only processes that ended an invocation (a replaced instance too); a
    crawl stopped early may have none from an instance.
    """

    def __init__(self, instances: int) -> None:
        """Name the first `instances` processes seen together by their place."""
        self._instances = instances
        self._first: dict[int, str] = {}

    def started(self, pids: list[int]) -> list[int]:
        """Note the live instances' pids (in instance order); returns them."""
        if not self._first and len(pids) == self._instances:
            self._first = {pid: f"{INSTANCE} {index}" for index, pid in enumerate(pids)}
        return pids

    def of(self, records: Iterable[InvocationRecord]) -> dict[int, str]:
        """`pid -> "instance I"` for every process known from its start or from the log."""
        return {**self._first, **instance_names(records)}


def named_processes(peaks: dict[str, float], instances: dict[int, str]) -> dict[str, float]:
    """Peaks keyed `instance pid N` renamed `instance I (pid N)` where the log knows N."""
    named: dict[str, float] = {}
    for name, value in peaks.items():
        head, _, tail = name.partition("/")
        if head.startswith(f"{INSTANCE} pid "):
            pid = int(head.rsplit(" ", 1)[1])
            head = f"{instances[pid]} (pid {pid})" if pid in instances else head
        named[head + (f"/{tail}" if tail else "")] = value
    return dict(sorted(named.items()))


def _check(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def verdicts(crawl: dict[str, Any]) -> list[Verdict]:
    """The brief's target lines for one measured crawl of `huge`."""
    name = str(crawl["run"])
    out: list[Verdict] = []

    def add(outcome: str, target: str, detail: str) -> None:
        out.append(Verdict(outcome, name, target, detail))

    if crawl["status"] != "succeeded":
        add("FAIL", "the crawl succeeds", str(crawl["status"]))
    for process, mb in crawl["peak_rss_mb"].items():
        if process.startswith(INSTANCE):
            add(
                _check(mb <= RSS_TARGET_MB),
                f"peak RSS of {process} <= {RSS_TARGET_MB:g} MB",
                f"{mb:.0f} MB",
            )
        else:
            add("INFO", f"peak RSS of {process} (harness, not deployed)", f"{mb:.0f} MB")
    stage, seconds = crawl["longest_invocation_stage"], crawl["longest_invocation_s"]
    add(
        _check(seconds <= LONGEST_TARGET_S and crawl["invocations_timed_out"] == 0),
        f"longest invocation <= {LONGEST_TARGET_S:g} s",
        f"{seconds:.1f} s in {stage}, {crawl['invocations_timed_out']} timed out",
    )
    writes, changed = crawl["graph_writes"], crawl["items_changed"]
    add(_check(writes == changed), "writes = changed items", f"{writes} writes, {changed} changed")
    if crawl["kind"] == FULL:
        _efficiency_lines(crawl, add)
    add(
        _check(bool(crawl["exact"])),
        "items exact",
        f"{crawl['items_wrong']} wrong of {crawl['items_expected']}",
    )
    if crawl["kind"] == INCREMENTAL and crawl["badges_changed_at_credly"] == 0:
        add(_check(writes == 0), "no change: 0 writes", f"{writes} writes")
    add("INFO", "429s", f"{crawl['graph_429']} of {writes + crawl['graph_429']} write requests")
    return out


def _efficiency_lines(crawl: dict[str, Any], add: Callable[[str, str, str], None]) -> None:
    """The full crawl's efficiency as the issue measures it, and its writes' share of the limit.

    The issue's measure is `large`'s (`bench/runner.py`): the crawl's lower bound, its people
    written at the limit or its Credly pages read one after another, whichever is longer,
    over its wall time. People over the limit over the wall is reported beside it.
    """
    limit, count, wall = crawl["limit"], crawl["instances"], crawl["wall_s"]
    badges = int((crawl.get("crawl_counts") or {}).get("badges_seen", 0))
    pages = -(-badges // PER_PAGE)
    bound = max(crawl["people"] / limit, pages * CREDLY_PAGE_LATENCY_S)
    efficiency = bound / wall if wall > 0 else 0.0
    text = (
        f"{efficiency:.2f} = max({crawl['people']} people / {limit:g}/s, "
        f"{pages} pages x {CREDLY_PAGE_LATENCY_S:g} s) / {wall:.0f} s"
    )
    if limit == EFFICIENCY_LIMIT and count == EFFICIENCY_INSTANCES:
        add(_check(efficiency >= EFFICIENCY_TARGET), f"efficiency >= {EFFICIENCY_TARGET}", text)
    else:
        fleet = f"{count} instance{'s' if count > 1 else ''}"
        add("INFO", f"efficiency at {limit:g}/s with {fleet}", text)
    share = crawl["people"] / limit / wall if wall > 0 else 0.0
    add("INFO", "writes' share of the limit", f"{share:.2f} = people / limit / wall")
