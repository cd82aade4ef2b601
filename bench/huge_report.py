"""The `huge` scenario end to end: run it, check the targets, write JSON, PNG and tables."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TextIO

import matplotlib as mpl

mpl.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt

from bench.huge import HUGE_BADGES, HugeOptions, run_huge
from bench.huge_figures import STAGES, verdicts
from bench.report import scenario_document, write_document
from bench.scenarios import CREDLY_PAGE_LATENCY_S, FULL, GRAPH_LATENCY_S
from bench.targets import Verdict

NAME = "huge"
SUMMARY = (
    ("crawl", "run"),
    ("badges", "badges"),
    ("wall s", "wall_s"),
    ("people", "people"),
    ("writes", "graph_writes"),
    ("changed items", "items_changed"),
    ("429", "graph_429"),
    ("efficiency", "efficiency"),
    ("exact", "exact"),
    ("invocations", "invocations"),
    ("longest s", "longest_invocation_s"),
)


def all_verdicts(crawls: list[dict[str, Any]]) -> list[Verdict]:
    """Every target line, crawl by crawl."""
    return [v for crawl in crawls for v in verdicts(crawl)]


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def markdown_tables(crawls: list[dict[str, Any]]) -> str:
    """Three tables: the crawls, each stage's wall and longest invocation, RSS per process."""
    summary = _table(
        [title for title, _ in SUMMARY],
        [[_cell(crawl.get(key)) for _, key in SUMMARY] for crawl in crawls],
    )
    seen = [s for s in STAGES if any(s in c["stages"] for c in crawls)]
    seen += sorted({s for c in crawls for s in c["stages"]} - set(STAGES))
    stage_rows = []
    for crawl in crawls:
        cells = [crawl["run"]]
        for stage in seen:
            figures = crawl["stages"].get(stage)
            cells.append(
                "-"
                if figures is None
                else f"{figures['wall_s']:.1f} / {figures['longest_s']:.1f} "
                f"({figures['invocations']})"
            )
        stage_rows.append(cells)
    stages = _table(["crawl", *(f"{s}: wall / longest s (n)" for s in seen)], stage_rows)
    processes = sorted({p for c in crawls for p in c["peak_rss_mb"]})
    memory = _table(
        ["crawl", *(f"{p} MB" for p in processes)],
        [
            [crawl["run"], *(f"{crawl['peak_rss_mb'].get(p, 0):.0f}" for p in processes)]
            for crawl in crawls
        ],
    )
    return "\n\n".join([summary, stages, memory])


def results_name(badges: int) -> str:
    """`huge` for the generator's largest organisation, `huge-20000` for a smaller trial."""
    return NAME if badges == HUGE_BADGES else f"{NAME}-{badges}"


def plot(crawls: list[dict[str, Any]], out_dir: Path, name: str = NAME) -> Path:
    """`NAME.png`: per crawl, item writes/s over time above each stage's span."""
    figure, axes = plt.subplots(
        2, max(1, len(crawls)), figsize=(5 * max(1, len(crawls)), 6), squeeze=False
    )
    for column, crawl in enumerate(crawls):
        writes, spans = axes[0, column], axes[1, column]
        rate = crawl["writes_per_s"]
        writes.step(range(len(rate)), rate, where="post", label="writes/s")
        writes.axhline(crawl["limit"], color="black", linestyle="--", linewidth=1, label="limit")
        writes.set_title(f"{crawl['run']}: {crawl['wall_s']:.0f} s, {crawl['badges']:,} badges")
        writes.set_ylabel("item writes/s")
        writes.legend(loc="upper right", fontsize="small")
        names = list(crawl["stages"])
        for row, stage in enumerate(names):
            figures = crawl["stages"][stage]
            start, end = figures["first_start_s"], figures["last_end_s"]
            spans.barh(row, max(end - start, 0.1), left=start, height=0.6)
            spans.text(end, row, f" longest {figures['longest_s']:.1f} s", va="center", fontsize=7)
        spans.set_yticks(range(len(names)), names)
        spans.invert_yaxis()
        spans.set_xlabel("seconds since the crawl was requested")
        spans.set_xlim(0, max(crawl["wall_s"], 1) * 1.3)
    figure.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def run_and_report(options: HugeOptions, out_dir: Path, out: TextIO) -> dict[str, Any]:
    """Run `huge`; the JSON is rewritten after each crawl (partial results survive a stop).

    The files are `huge.json`, `huge.png` and the host's `huge-invocations.jsonl` at 200,000
    badges, `huge-BADGES*` otherwise (a trial does not overwrite the full-size figures). A
    crawl that does not end within the timeout is recorded as far as it got, and ends the run.

    Returns the final document; prints the tables and the target lines to `out`.
    """
    name = results_name(options.badges)
    options = replace(options, keep_log=out_dir / f"{name}-invocations.jsonl")
    settings = {
        **asdict(options),
        "crawls": [asdict(step) for step in options.crawls],
        "host_json": str(options.host_json or "host.json"),
        "keep_log": f"{name}-invocations.jsonl",
        "credly_latency_s": CREDLY_PAGE_LATENCY_S,
        "graph_latency_s": GRAPH_LATENCY_S,
        "graph_write_rate": options.graph_write_rate or "unset (the fleet finds the limit)",
    }
    crawls: list[dict[str, Any]] = []

    def save(crawl: dict[str, Any]) -> None:
        crawls.append(crawl)
        write_document(scenario_document(name, settings, crawls, all_verdicts(crawls)), out_dir)
        out.write(
            f"measured {crawl['run']}: {crawl['wall_s']:.1f} s, {crawl['status']}, longest "
            f"invocation {crawl['longest_invocation_s']:.1f} s "
            f"({crawl['longest_invocation_stage']})\n"
        )
        out.flush()

    try:
        run_huge(options, save)
    finally:
        if any(c["kind"] == FULL for c in crawls):
            plot(crawls, out_dir, name)
    found = all_verdicts(crawls)
    document = scenario_document(name, settings, crawls, found)
    write_document(document, out_dir)
    out.write(f"\n## {NAME} ({options.badges:,} badges)\n\n{markdown_tables(crawls)}\n\n")
    out.write("\n".join(v.line() for v in found) + "\n")
    out.flush()
    return document
