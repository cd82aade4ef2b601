"""The `scaleout` scenario's figures from request logs, and the issue's target lines for them."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

from bench.scenarios import FULL
from bench.targets import Verdict

WINDOW_S = 5.0
THROTTLE_SHARE = 0.05
WINDOW_SHARE = 1.1
COORDINATION_SHARE = 0.1
"""At most one coordination storage operation per 10 item writes (at 25/s)."""
COORDINATION_LIMIT = 25.0
EFFICIENCY_TARGET = 0.85
EFFICIENCY_LIMIT = 25.0
WEBHOOK_TARGET_S = 5.0
COORDINATION_TABLES = frozenset({"budgets", "slots"})
GRAPH_BUDGET_TABLES = frozenset({"budgets"})
"""The Graph write budget's rows (the Credly budget's concurrency lives in `slots`)."""
CREDLY_SLOT_TABLES = frozenset({"slots"})


def busiest_window(times: Iterable[float], window_s: float = WINDOW_S) -> int:
    """The most of `times` inside any half-open window `[t, t + window_s)`."""
    ordered = sorted(times)
    best = 0
    for index, start in enumerate(ordered):
        best = max(best, bisect.bisect_left(ordered, start + window_s) - index)
    return best


def most_in_flight(spans: Iterable[tuple[float, float]]) -> int:
    """The most `(start, duration)` requests under way at one moment."""
    events: list[tuple[float, int]] = []
    for start, duration in spans:
        events += [(start, 1), (start + duration, -1)]
    # An end at the same instant as a start comes first: the two did not overlap.
    events.sort(key=lambda event: (event[0], event[1]))
    current = best = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best


def per_second(times: Iterable[float], started: float, wall_s: float) -> list[int]:
    """How many of `times` fall in each whole second after `started`."""
    bins = [0] * max(1, int(wall_s) + 1)
    for at in times:
        bins[min(len(bins) - 1, max(0, int(at - started)))] += 1
    return bins


def coordination_ops(
    table_ops: Mapping[str, int], tables: frozenset[str] = COORDINATION_TABLES
) -> int:
    """Table operations on the shared budgets' tables (`budgets.*`, `slots.*` by default)."""
    return sum(n for key, n in table_ops.items() if key.split(".", 1)[0] in tables)


def _check(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def verdicts(crawl: dict[str, Any]) -> list[Verdict]:
    """The target lines of one crawl of the scenario."""
    name = crawl["run"]
    out: list[Verdict] = []

    def add(outcome: str, target: str, detail: str) -> None:
        out.append(Verdict(outcome, name, target, detail))

    if crawl["status"] != "succeeded":
        add("FAIL", "the crawl succeeds", str(crawl["status"]))
    limit = crawl["graph_write_limit_per_s"]
    writes, throttled = crawl["graph_writes"], crawl["graph_429"]
    if writes or throttled:
        share = crawl["throttled_share"]
        add(
            _check(share <= THROTTLE_SHARE),
            f"429 <= {THROTTLE_SHARE:.0%} of writes",
            f"{throttled} of {writes}, {share:.1%}",
        )
        add(
            _check(crawl["busiest_5s_share"] <= WINDOW_SHARE),
            f"busiest 5 s window <= {WINDOW_SHARE} x the limit",
            f"{crawl['busiest_5s_writes']} writes, {crawl['busiest_5s_share']:.2f} x {limit:g}/s",
        )
        if "busiest_5s_learned_share" in crawl:
            learned = crawl["busiest_5s_learned_share"]
            add(
                _check(learned <= WINDOW_SHARE),
                f"busiest 5 s window after the first 429 <= {WINDOW_SHARE} x the limit",
                f"{crawl['busiest_5s_learned_writes']} writes, {learned:.2f} x {limit:g}/s",
            )
    most = crawl["credly_max_concurrency"]
    add(
        _check(crawl["credly_in_flight_max"] <= most),
        f"Credly in flight <= CREDLY_MAX_CONCURRENCY ({most})",
        f"{crawl['credly_in_flight_max']} at most",
    )
    add(
        _check(bool(crawl["exact"])),
        "items exact (the oracle)",
        f"{crawl['items_wrong']} of {crawl['items_expected']} differ",
    )
    coordination = crawl["graph_budget_table_ops"]
    # A sustained crawl's share; an incremental's few writes mostly pay fixed costs.
    if writes and limit == COORDINATION_LIMIT and crawl["kind"] == FULL:
        add(
            _check(coordination <= COORDINATION_SHARE * writes),
            "Graph budget coordination <= 1 storage operation per 10 writes at 25/s",
            f"{coordination} operations for {writes} writes",
        )
    elif writes:
        add("INFO", "Graph budget storage operations", f"{coordination} for {writes} writes")
    add(
        "INFO",
        "Credly budget storage operations (slots)",
        f"{crawl['credly_slot_table_ops']} for {crawl['credly_requests']} Credly requests",
    )
    if crawl["kind"] == FULL:
        efficiency = crawl["efficiency"]
        text = f"{efficiency:.2f} = {crawl['people']} / {limit:g} / {crawl['wall_s']:.1f} s"
        if limit == EFFICIENCY_LIMIT and crawl["instances"] >= 2:
            add(_check(efficiency >= EFFICIENCY_TARGET), f"efficiency >= {EFFICIENCY_TARGET}", text)
        else:
            add("INFO", "efficiency", text)
    webhook = crawl.get("webhook")
    if webhook:
        latency = webhook.get("latency_s")
        add(
            _check(latency is not None and latency <= WEBHOOK_TARGET_S),
            f"a webhook during the crawl reaches its item within {WEBHOOK_TARGET_S:g} s",
            f"{latency} s" if latency is not None else f"not reached ({webhook})",
        )
    return out


def fleet_verdicts(crawls: list[dict[str, Any]]) -> list[Verdict]:
    """Lines comparing instance counts: more instances never make a full crawl worse."""
    out: list[Verdict] = []
    groups: dict[tuple[float, bool, str], list[dict[str, Any]]] = {}
    for crawl in crawls:
        if crawl["kind"] == FULL:
            queues = crawl.get("queues") or {}
            shape = f"{queues.get('batchSize', '?')}+{queues.get('newBatchThreshold', '?')}"
            key = (crawl["graph_write_limit_per_s"], crawl["retry_after"], shape)
            groups.setdefault(key, []).append(crawl)
    for (limit, retry_after, shape), fulls in sorted(groups.items()):
        fulls.sort(key=lambda c: c["instances"])
        tail = "" if retry_after else " no Retry-After"
        label = f"full@{limit:g}/s{tail}, batchSize+newBatchThreshold {shape}"
        figures = ", ".join(f"{c['instances']}: {c['efficiency']:.2f}" for c in fulls)
        if len(fulls) < 2:
            continue
        several = [c for c in fulls if c["instances"] >= 2]
        single = [c for c in fulls if c["instances"] == 1]
        if limit == EFFICIENCY_LIMIT and several and single:
            worst = min(c["efficiency"] for c in several)
            passed = worst >= single[0]["efficiency"] - 0.05
            target = "more instances never make efficiency worse (within 0.05)"
            out.append(Verdict(_check(passed), label, target, figures))
        elif single and several:
            best = max(c["efficiency"] for c in several)
            target = "efficiency better with more instances than with one"
            out.append(Verdict(_check(best > single[0]["efficiency"]), label, target, figures))
    return out
