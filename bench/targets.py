"""The issue's targets, checked against a scenario's results (printed, never asserted)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.scenarios import CREDLY_PAGE_LATENCY_S, FULL, INCREMENTAL
from credly_connector.settings.model import DEFAULT_CREDLY_MAX_CONCURRENCY

EFFICIENCY_TARGET = 0.85
EFFICIENCY_LIMITS = (25.0, 50.0, 100.0)
"""Write limits at which a full crawl must reach the efficiency target (others: reported)."""
THROTTLE_SHARE = 0.05
RSS_TARGET_MB = 300.0
RSS_SCENARIO = "large"


@dataclass(frozen=True)
class Verdict:
    """One target line: PASS, FAIL or INFO (reported, no target at this point)."""

    outcome: str
    crawl: str
    target: str
    detail: str

    def line(self) -> str:
        """`PASS full: efficiency >= 0.85 (0.91)`."""
        return f"{self.outcome} {self.crawl}: {self.target} ({self.detail})"

    def to_json(self) -> dict[str, str]:
        """The verdict as stored in the results."""
        return {
            "outcome": self.outcome,
            "crawl": self.crawl,
            "target": self.target,
            "detail": self.detail,
        }


def _check(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def verdicts(scenario: str, crawl: dict[str, Any]) -> list[Verdict]:
    """The target lines of one crawl's JSON (the issue's fields plus `details`)."""
    details = crawl["details"]
    name = details["label"]
    out: list[Verdict] = []

    def add(outcome: str, target: str, detail: str) -> None:
        out.append(Verdict(outcome, name, target, detail))

    if details["status"] != "succeeded":
        add("FAIL", "the crawl succeeds", f"{details['status']}, timed out {details['timed_out']}")
    limit = crawl["graph_write_limit_per_s"]
    if crawl["kind"] == FULL:
        efficiency = crawl["efficiency"]
        target = f"efficiency >= {EFFICIENCY_TARGET} at {limit:g}/s"
        text = f"{efficiency:.2f} = {crawl['lower_bound_s']:.1f} s / {crawl['wall_s']:.1f} s"
        if limit in EFFICIENCY_LIMITS:
            add(_check(efficiency >= EFFICIENCY_TARGET), target, text)
        else:
            add("INFO", f"efficiency at {limit:g}/s", text)
        if "stage_windows_s" in details:
            add("INFO", "time before the first write", _before_first_write(crawl))
    writes, throttled = crawl["graph_writes"], crawl["graph_429"]
    if writes or throttled:
        share = throttled / writes if writes else 1.0
        add(
            _check(share <= THROTTLE_SHARE),
            f"429s <= {THROTTLE_SHARE:.0%} of writes",
            f"{throttled} of {writes}, {share:.1%}",
        )
    add(
        _check(writes == details["graph_items_changed"]),
        "Graph writes = items whose content changed",
        f"{writes} writes, {details['graph_items_changed']} items changed",
    )
    if crawl["kind"] == FULL and details["first_in_run"]:
        add(
            _check(writes == details["graph_items"]),
            "full crawl on an empty connection writes every person with an eligible badge",
            f"{writes} writes, {details['graph_items']} items in Graph",
        )
    if crawl["kind"] == INCREMENTAL and details["badges_changed_at_credly"] == 0:
        most = 2 * details["organisations"]
        add(
            _check(writes == 0 and crawl["credly_requests"] <= most),
            f"no change: 0 writes, <= {most} Credly requests",
            f"{writes} writes, {crawl['credly_requests']} Credly requests",
        )
    pages = details["pages"]
    add(
        _check(crawl["credly_requests"] <= pages + 2),
        "Credly requests <= pages + 2",
        f"{crawl['credly_requests']} requests, {pages} pages",
    )
    directory_pages = details["directory_pages"]
    add(
        _check(crawl["graph_reads"] <= directory_pages + 1),
        "Graph reads <= directory pages (+1)",
        f"{crawl['graph_reads']} reads, {directory_pages} directory pages",
    )
    rss = crawl["peak_rss_mb"]
    if scenario == RSS_SCENARIO:
        add(_check(rss <= RSS_TARGET_MB), f"peak RSS <= {RSS_TARGET_MB:g} MB", f"{rss:.0f} MB")
    else:
        add("INFO", "peak RSS of the pipeline process", f"{rss:.0f} MB")
    return out


def _before_first_write(crawl: dict[str, Any]) -> str:
    """Where a full crawl's time before its profile stage went, against what the target allows.

    A full crawl writes nobody before every page is read (any page may hold a person's
    badge), and its pages cannot be read faster than Credly's concurrency allows: the default
    slots, each holding one page read of the stand-in's latency.
    """
    windows = crawl["details"]["stage_windows_s"]
    pages = crawl["details"]["pages"]
    floor = pages * CREDLY_PAGE_LATENCY_S / DEFAULT_CREDLY_MAX_CONCURRENCY
    writing = crawl["people"] / crawl["graph_write_limit_per_s"]
    allowed = crawl["lower_bound_s"] / EFFICIENCY_TARGET - writing

    def length(stage: str) -> float:
        start, end = windows.get(stage, (0.0, 0.0))
        return float(end) - float(start)

    first = float(windows.get("profiles", (crawl["wall_s"],))[0])
    return (
        f"{first:.1f} s: start {length('start'):.1f}, pages {length('pages'):.1f} "
        f"(Credly's floor {floor:.1f} s: {pages} pages x {CREDLY_PAGE_LATENCY_S:g} s / "
        f"{DEFAULT_CREDLY_MAX_CONCURRENCY} slots), plan {length('plan'):.1f}; "
        f"efficiency {EFFICIENCY_TARGET} needs at most {max(allowed, 0.0):.1f} s"
    )


def scenario_verdicts(scenario: str, crawls: list[dict[str, Any]]) -> list[Verdict]:
    """Every target line of a scenario, crawl by crawl."""
    return [verdict for crawl in crawls for verdict in verdicts(scenario, crawl)]
