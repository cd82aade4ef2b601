"""One scenario end to end: run it, check the targets, write the JSON and the PNG, print."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from bench.plot import plot_scenario
from bench.report import markdown_table, scenario_document, write_document
from bench.runner import CrawlResult, Options, run_scenario
from bench.scenarios import CREDLY_PAGE_LATENCY_S, GRAPH_LATENCY_S, Scenario
from bench.targets import scenario_verdicts
from devstack.azurite import Azurite


def benchmark(
    scenario: Scenario, options: Options, azurite: Azurite, out_dir: Path, out: TextIO
) -> dict[str, Any]:
    """Run `scenario`, write `NAME.json` and `NAME.png` into `out_dir`; returns the document.

    The JSON is rewritten after every crawl, so a long scenario stopped early leaves the
    crawls it finished. Prints the Markdown table and the target lines to `out`.
    """
    settings = {
        **asdict(options),
        "badges": scenario.badges,
        "seed": scenario.seed,
        "credly_latency_s": CREDLY_PAGE_LATENCY_S,
        "graph_latency_s": GRAPH_LATENCY_S,
    }
    crawls: list[dict[str, Any]] = []

    def save(result: CrawlResult) -> None:
        crawls.append(result.to_json())
        partial = scenario_document(
            scenario.name, settings, crawls, scenario_verdicts(scenario.name, crawls)
        )
        write_document(partial, out_dir)
        out.write(f"measured {scenario.name} / {result.details['label']}\n")
        out.flush()

    run_scenario(scenario, options, azurite, on_result=save)
    verdicts = scenario_verdicts(scenario.name, crawls)
    document = scenario_document(scenario.name, settings, crawls, verdicts)
    path = write_document(document, out_dir)
    plot = plot_scenario(scenario.name, crawls, out_dir)
    out.write(f"\n## {scenario.name} ({scenario.badges} badges)\n\n")
    out.write(markdown_table(crawls) + "\n\n")
    out.write("\n".join(v.line() for v in verdicts) + "\n")
    out.write(f"\nresults: {path.name}, plot: {plot.name} in {out_dir.name}/\n")
    out.flush()
    return document
