"""The `scaleout` scenario end to end: run the matrix, check the targets, write JSON, PNG, table."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import matplotlib as mpl

mpl.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt

from bench.report import scenario_document, write_document
from bench.scaleout import ScaleoutOptions, run_cell
from bench.scaleout_figures import fleet_verdicts, verdicts
from bench.scenarios import CREDLY_PAGE_LATENCY_S, FULL, GRAPH_LATENCY_S
from bench.targets import Verdict

NAME = "scaleout"
COLUMNS = (
    ("run", "run"),
    ("batchSize+newBatchThreshold", "queues"),
    ("wall s", "wall_s"),
    ("people", "people"),
    ("efficiency", "efficiency"),
    ("429/writes", "throttled_share"),
    ("busiest 5 s / limit", "busiest_5s_share"),
    ("after first 429", "busiest_5s_learned_share"),
    ("Credly in flight", "credly_in_flight_max"),
    ("coordination ops", "coordination_table_ops"),
    ("writes", "graph_writes"),
    ("exact", "exact"),
)


def all_verdicts(crawls: list[dict[str, Any]]) -> list[Verdict]:
    """Every target line: crawl by crawl, then across instance counts."""
    return [v for crawl in crawls for v in verdicts(crawl)] + fleet_verdicts(crawls)


def markdown_table(crawls: list[dict[str, Any]]) -> str:
    """The crawls as a Markdown table, one row each."""
    header = "| " + " | ".join(title for title, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    rows = []
    for crawl in crawls:
        cells = []
        for _, key in COLUMNS:
            value = crawl.get(key)
            if key == "queues":
                cells.append(f"{value['batchSize']}+{value['newBatchThreshold']}" if value else "")
            elif key == "throttled_share":
                cells.append(f"{value:.1%}")
            elif isinstance(value, float):
                cells.append(f"{value:.2f}")
            else:
                cells.append(str(value))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows])


def _panel(crawl: dict[str, Any]) -> tuple[float, bool, str]:
    queues = crawl.get("queues") or {}
    shape = f"{queues.get('batchSize', '?')}+{queues.get('newBatchThreshold', '?')}"
    return crawl["graph_write_limit_per_s"], crawl["retry_after"], shape


def plot(crawls: list[dict[str, Any]], out_dir: Path) -> Path:
    """`scaleout.png`: aggregate writes/s of each full crawl, one line per instance count."""
    fulls = [c for c in crawls if c["kind"] == FULL]
    panels = sorted({_panel(c) for c in fulls})
    figure, axes = plt.subplots(
        max(1, len(panels)), 1, figsize=(10, 3.2 * max(1, len(panels))), squeeze=False
    )
    for axis, panel in zip(axes[:, 0], panels, strict=False):
        limit, retry_after, queues = panel
        peak = limit
        for crawl in sorted(fulls, key=lambda c: c["instances"]):
            if _panel(crawl) != panel:
                continue
            writes = crawl["writes_per_s"]
            peak = max(peak, *writes)
            axis.step(
                range(len(writes)),
                writes,
                where="post",
                label=f"{crawl['instances']} inst., {crawl['wall_s']:.0f} s, "
                f"eff. {crawl['efficiency']:.2f}",
            )
        axis.axhline(limit, color="black", linestyle="--", linewidth=1, label=f"limit {limit:g}/s")
        variant = "429 with Retry-After" if retry_after else "429 without Retry-After"
        axis.set_title(
            f"full crawl of the small organisation at {limit:g} writes/s ({variant}), "
            f"batchSize+newBatchThreshold {queues}"
        )
        axis.set_xlabel("seconds since the crawl was requested")
        axis.set_ylabel("item writes/s (all instances)")
        axis.set_ylim(0, peak * 1.15)
        axis.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{NAME}.png"
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def run_and_report(
    options: ScaleoutOptions, out_dir: Path, out: TextIO, *, append: bool = False
) -> dict[str, Any]:
    """Run every cell of `options`; the JSON is rewritten after each crawl (partial results).

    Args:
        append: Keep the crawls already in `scaleout.json` (another part of the matrix).

    Returns the final document; prints the table and the target lines to `out`.
    """
    settings = {
        **asdict(options),
        "crawls": [asdict(step) for step in options.crawls],
        "host_json": str(options.host_json or "host.json"),
        "credly_latency_s": CREDLY_PAGE_LATENCY_S,
        "graph_latency_s": GRAPH_LATENCY_S,
        "graph_write_rate": "unset (the fleet finds the limit)",
    }
    crawls: list[dict[str, Any]] = []
    previous = out_dir / f"{NAME}.json"
    if append and previous.exists():
        crawls += json.loads(previous.read_text(encoding="utf-8"))["crawls"]

    def save(crawl: dict[str, Any]) -> None:
        crawls.append(crawl)
        write_document(scenario_document(NAME, settings, crawls, all_verdicts(crawls)), out_dir)
        out.write(f"measured {crawl['run']}: {crawl['wall_s']:.1f} s, {crawl['status']}\n")
        out.flush()

    try:
        for limit, retry_after, instances in options.cells():
            run_cell(options, limit, retry_after, instances, save)
    finally:
        if crawls:
            plot(crawls, out_dir)
    found = all_verdicts(crawls)
    document = scenario_document(NAME, settings, crawls, found)
    write_document(document, out_dir)
    out.write(f"\n## {NAME}\n\n{markdown_table(crawls)}\n\n")
    out.write("\n".join(v.line() for v in found) + "\n")
    out.flush()
    return document
