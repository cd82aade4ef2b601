"""One crawl of the `scaleout` scenario: requested over HTTP, measured from outside the fleet."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from bench.scaleout_figures import (
    CREDLY_SLOT_TABLES,
    GRAPH_BUDGET_TABLES,
    WINDOW_S,
    busiest_window,
    coordination_ops,
    most_in_flight,
    per_second,
)
from bench.scenarios import CrawlStep
from bench.standins import ChildStandIns
from bench.table_meter import TableMeter
from credly_connector.settings import DEFAULT_CREDLY_MAX_CONCURRENCY
from devstack.host import FunctionsHost
from devstack.ops_client import OpsClient

WEBHOOK_AFTER_SHARE = 0.2
"""The webhook is sent once this share of the organisation's people has been written."""
WEBHOOK_TIMEOUT_S = 60.0
POLL_S = 1.0
"""Status polls (each reads the crawl's steps: a poll every quarter second took storage and
CPU from the crawl it measured). The wall time comes from the record's own timestamps."""
LEARNED_AFTER_S = 3.0
"""The fleet knows the limit this long after the crawl's first 429 (its gate has passed)."""


class WebhookProbe:
    """Sends one Credly webhook once a full crawl has written a share of the people."""

    def __init__(self, host: FunctionsHost, standins: ChildStandIns, since: float) -> None:
        self.host = host
        self.standins = standins
        self.threshold = WEBHOOK_AFTER_SHARE * int(standins.facts["people"])
        self.seen_until = since
        self.written = 0
        self.sent_at: float | None = None
        self.item_id: str | None = None

    def poll(self, _record: dict[str, Any]) -> None:
        """Called at each status poll: count new writes, send the webhook past the share."""
        if self.sent_at is not None:
            return
        log = self.standins.ask({"op": "log", "since": self.seen_until})
        self.seen_until = time.monotonic()
        self.written += sum(1 for _, status in log["writes"] if 200 <= status < 300)
        if self.written >= self.threshold:
            url = self.host.url("credly/events")
            answer = self.standins.ask({"op": "webhook", "url": url, "seed": 5})
            self.sent_at = time.monotonic()
            self.item_id = answer["item_id"]

    def result(self, started: float) -> dict[str, Any]:
        """When it was sent, and how long until Graph held the changed item."""
        if self.sent_at is None:
            return {"sent": False}
        answer = self.standins.ask({"op": "webhook_result", "timeout_s": WEBHOOK_TIMEOUT_S})
        return {
            "sent": True,
            "sent_at_s": round(self.sent_at - started, 2),
            "item_id": self.item_id,
            **answer,
        }


def record_wall_s(record: dict[str, Any]) -> float | None:
    """From the crawl's request to its end, by the record's timestamps (None: not both)."""
    created, finished = record.get("createdAt"), record.get("finishedAt")
    if not created or not finished:
        return None
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(created)).total_seconds()


def measure_crawl(
    host: FunctionsHost,
    standins: ChildStandIns,
    meter: TableMeter,
    step: CrawlStep,
    *,
    limit: float,
    webhook: bool,
    timeout_s: float,
) -> dict[str, Any]:
    """Change the world as `step` says, request the crawl, wait for it, collect its figures."""
    changed = 0
    if step.change_fraction:
        count = max(1, round(int(standins.facts["badges"]) * step.change_fraction))
        changed = standins.change_badges(count, seed=len(step.label))
    ops = OpsClient(host.base_url, host.key)
    meter.take()
    started = time.monotonic()
    probe = WebhookProbe(host, standins, started) if webhook else None
    phases: dict[str, float] = {}

    def on_poll(polled: dict[str, Any]) -> None:
        # When each phase was first seen (at the poll's resolution): where the wall goes.
        phases.setdefault(str(polled.get("phase")), round(time.monotonic() - started, 1))
        if probe is not None:
            probe.poll(polled)

    crawl_id = str(ops.start_crawl(step.kind)["id"])
    record = ops.wait_crawl(
        crawl_id,
        timeout_s=timeout_s,
        interval_s=POLL_S,
        on_poll=on_poll,
    )
    ended = time.monotonic()
    wall_s = record_wall_s(record) or ended - started
    table_ops = meter.take()
    log = standins.ask({"op": "log", "since": started})
    webhook_result = probe.result(started) if probe is not None else None
    exact = standins.ask({"op": "exact"})
    writes = [(at, status) for at, status in log["writes"] if at <= ended]
    accepted = [at for at, status in writes if 200 <= status < 300]
    throttled = [at for at, status in writes if status == 429]
    counts = record.get("counts") or {}
    people = int(counts.get("people_written", 0)) + int(counts.get("people_deleted", 0))
    busiest = busiest_window(at for at, _ in writes)
    # Once slow start's first 429 has spent the service's burst allowance, the fleet knows
    # the limit: the same window over the rest of the crawl is what it keeps to.
    learned_from = throttled[0] + LEARNED_AFTER_S if throttled else started
    learned = busiest_window(at for at, _ in writes if at >= learned_from)
    crawl: dict[str, Any] = {
        "label": step.label,
        "kind": step.kind,
        "status": record.get("status"),
        "wall_s": round(wall_s, 2),
        "people": people,
        "efficiency": round(people / limit / wall_s, 4) if wall_s > 0 else 0.0,
        "graph_writes": len(accepted),
        "graph_429": len(throttled),
        "graph_other": len(writes) - len(accepted) - len(throttled),
        "throttled_share": round(len(throttled) / len(accepted), 4) if accepted else 0.0,
        "busiest_5s_writes": busiest,
        "busiest_5s_share": round(busiest / (WINDOW_S * limit), 3),
        "busiest_5s_accepted": busiest_window(accepted),
        "busiest_5s_learned_writes": learned,
        "busiest_5s_learned_share": round(learned / (WINDOW_S * limit), 3),
        "credly_requests": len(log["credly"]),
        "credly_in_flight_max": most_in_flight((at, d) for at, d in log["credly"] if at <= ended),
        "credly_max_concurrency": DEFAULT_CREDLY_MAX_CONCURRENCY,
        "table_ops": sum(table_ops.values()),
        "coordination_table_ops": coordination_ops(table_ops),
        "graph_budget_table_ops": coordination_ops(table_ops, GRAPH_BUDGET_TABLES),
        "credly_slot_table_ops": coordination_ops(table_ops, CREDLY_SLOT_TABLES),
        "table_ops_by_table": dict(sorted(table_ops.items())),
        "exact": bool(exact["exact"]),
        "items_expected": int(exact["expected"]),
        "items_wrong": int(exact["wrong"]),
        "badges_changed_at_credly": changed,
        "crawl_counts": counts,
        "phases_first_seen_s": phases,
        "writes_per_s": per_second(accepted, started, wall_s),
        "throttles_per_s": per_second(throttled, started, wall_s),
    }
    if webhook_result is not None:
        crawl["webhook"] = webhook_result
    return crawl
