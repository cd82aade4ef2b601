"""`python -m bench.pages_cpu`: the CPU one page of a first full crawl costs the pipeline.

The pages stage runs on every instance once per 50 badges, so its CPU, more than its
latency, decides how fast a fleet on few cores reads an organisation. This runs the start
stage of a full crawl of a generated organisation (stand-ins in a child process, Azurite in
its own), then the page handler of each page one after the other in this process, and reads
this process's CPU time (every thread: the handler's table writes run side by side) around
each. Azurite's and the stand-ins' CPU are theirs, not counted. Writes
`bench/results/pages_cpu.json` with every page's figure and a PASS/FAIL line for the target.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report import RESULTS_DIR
from bench.scenarios import CREDLY_PAGE_LATENCY_S, GRAPH_LATENCY_S

TARGET_MS = 40.0
"""Issue target: a page of a first full crawl costs at most this much CPU."""
DEFAULT_BADGES = 10_000
DEFAULT_PAGES = 60


def measure(badges: int, pages: int, seed: int = 6) -> dict[str, Any]:
    """Run the start stage, then `pages` page handlers; each page's CPU and wall in ms."""
    # Imported here so `--help` answers without loading the SDKs.
    from bench.standins import CHILD, StackSpec, running_standins  # noqa: PLC0415
    from credly_connector.pipeline.context import Delivery  # noqa: PLC0415
    from credly_connector.pipeline.dispatch import handle_message  # noqa: PLC0415
    from credly_connector.pipeline.launch import request_crawl  # noqa: PLC0415
    from credly_connector.pipeline.messages import START, PageMessage  # noqa: PLC0415
    from credly_connector.pipeline.pages import handle_page  # noqa: PLC0415
    from credly_connector.runtime import build_context  # noqa: PLC0415
    from credly_connector.settings import load_settings  # noqa: PLC0415
    from devstack.azurite import Azurite  # noqa: PLC0415

    with Azurite() as azurite:
        spec = StackSpec(
            seed=seed,
            badges=badges,
            storage=azurite.connection_string,
            prefix="",
            credly_latency_s=CREDLY_PAGE_LATENCY_S,
            graph_latency_s=GRAPH_LATENCY_S,
            write_limit=1000.0,
            env={},
        )
        with running_standins(CHILD, spec) as standins:
            ctx = build_context(load_settings(standins.facts["env"]))
            ctx.tables.ensure()
            ctx.queues.ensure()
            crawl = request_crawl(ctx, "full", "bench").crawl
            assert crawl is not None, "another crawl holds the organisation"
            start = ctx.queues.client(START)
            for message in start.receive_messages(messages_per_page=1):
                handle_message(ctx, START, message.content, Delivery())
                start.delete_message(message)
            record = ctx.crawls.get(crawl.crawl_id)
            assert record is not None, "the crawl record is gone"
            assert record.total_pages, "the start stage found no pages"
            # The messages the start stage sends, each of `pages_per_message` pages; a
            # message's CPU is shared out over its pages. The first message warms connections
            # and caches; it is measured but reported apart.
            span = ctx.options.pages_per_message
            last = min(pages, record.total_pages)
            figures = []
            for number in range(1, last + 1, span):
                count = min(span, last - number + 1)
                cpu, wall = time.process_time(), time.perf_counter()
                handle_page(ctx, PageMessage(crawl.crawl_id, number, count), Delivery())
                figures.append(
                    {
                        "page": number,
                        "count": count,
                        "cpu_ms": round((time.process_time() - cpu) * 1000 / count, 2),
                        "wall_ms": round((time.perf_counter() - wall) * 1000 / count, 2),
                    }
                )
            return {
                "badges": badges,
                "total_pages": record.total_pages,
                "pages_per_message": span,
                "pages": figures,
            }


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """Median, mean and 95th percentile per page, over the messages after the first (warm).

    Each entry is one message's figure per page it read, counted once per page.
    """
    messages = document["pages"][1:] or document["pages"]
    warm = [m["cpu_ms"] for m in messages for _ in range(m.get("count", 1))]
    walls = [m["wall_ms"] for m in messages for _ in range(m.get("count", 1))]
    ordered = sorted(warm)
    return {
        "pages_measured": len(warm),
        "cpu_ms_median": round(statistics.median(warm), 2),
        "cpu_ms_mean": round(statistics.fmean(warm), 2),
        "cpu_ms_p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "wall_ms_median": round(statistics.median(walls), 2),
        "first_page_cpu_ms": document["pages"][0]["cpu_ms"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, write the results, print the summary; 0 when the median meets the target."""
    parser = argparse.ArgumentParser(prog="python -m bench.pages_cpu", description=__doc__)
    parser.add_argument("--badges", type=int, default=DEFAULT_BADGES, help="organisation size")
    parser.add_argument("--pages", type=int, default=DEFAULT_PAGES, help="pages to measure")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    args = parser.parse_args(argv)
    if args.badges < 1 or args.pages < 2:
        parser.error("give at least 1 badge and 2 pages")
    try:
        document = measure(args.badges, args.pages)
    except KeyboardInterrupt:
        sys.stderr.write("stopped; nothing written\n")
        return 130
    document["summary"] = figures = summary(document)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "pages_cpu.json"
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    passed = figures["cpu_ms_median"] <= TARGET_MS
    sys.stdout.write(
        f"{'PASS' if passed else 'FAIL'} pages stage CPU per page of a first full crawl "
        f"<= {TARGET_MS:g} ms: median {figures['cpu_ms_median']} ms, mean "
        f"{figures['cpu_ms_mean']} ms, p95 {figures['cpu_ms_p95']} ms over "
        f"{figures['pages_measured']} pages (wall median {figures['wall_ms_median']} ms)\n"
        f"results: {path}\n"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
