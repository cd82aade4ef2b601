"""`python -m bench.scaleout`: the `small` organisation crawled by 1..N local host instances.

Each run is a fresh Azurite (the app's queue names are fixed), the stand-ins in a child
process with Graph limited to the run's write rate, and `devstack.host.FunctionsHost` with
the run's instance count, the app's own host.json and no `GRAPH_WRITE_RATE`: the fleet must
find the limit itself. Crawls are requested over HTTP as an administrator would; what they
cost is read where it arrives (the stand-ins' request logs, a counting forwarder in front of
Azurite's Table port), since the work happens in the instances' processes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import RESULTS_DIR
from bench.scenarios import CREDLY_PAGE_LATENCY_S, FULL, GRAPH_LATENCY_S, THREE_CRAWLS, CrawlStep
from bench.standins import CHILD, ChildStandIns, StackSpec, running_standins

SMALL_BADGES = 10_000
HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"


@dataclass(frozen=True)
class ScaleoutOptions:
    """The matrix to run and how.

    Attributes:
        instances: Host instance counts.
        limits: Graph item-write limits per second.
        retry_after: Variants of the limit's 429: with `Retry-After` (True), without (False).
        badges: The organisation's size (`small` by default).
        crawls: The crawls of each run.
        webhook: Send a Credly webhook during each full crawl and time it.
        timeout_s: A crawl not ended by then fails the run.
        host_json: The host.json the instances read (the app's by default).
    """

    instances: tuple[int, ...] = (1, 2, 4)
    limits: tuple[float, ...] = (25.0,)
    retry_after: tuple[bool, ...] = (True,)
    badges: int = SMALL_BADGES
    seed: int = 6
    crawls: tuple[CrawlStep, ...] = THREE_CRAWLS
    webhook: bool = True
    timeout_s: float = 1800.0
    host_json: Path | None = None

    def cells(self) -> list[tuple[float, bool, int]]:
        """(limit, Retry-After, instances) of every run, smallest limit and fleet first."""
        return [
            (limit, retry_after, count)
            for limit in self.limits
            for retry_after in self.retry_after
            for count in self.instances
        ]


def run_label(limit: float, retry_after: bool, instances: int) -> str:
    """`4 instances @25/s` (and `no Retry-After` for that variant)."""
    tail = "" if retry_after else " no Retry-After"
    return f"{instances} instance{'s' if instances > 1 else ''} @{limit:g}/s{tail}"


def run_cell(
    options: ScaleoutOptions,
    limit: float,
    retry_after: bool,
    instances: int,
    on_crawl: Callable[[dict[str, Any]], None],
) -> None:
    """One run: a fresh stack and fleet, its crawls measured one after the other."""
    # Imported here so `--help` answers without loading the SDKs.
    from bench.scaleout_run import measure_crawl  # noqa: PLC0415
    from bench.table_meter import TableMeter  # noqa: PLC0415
    from devstack.azurite import Azurite, AzuriteEndpoints  # noqa: PLC0415
    from devstack.host import FunctionsHost  # noqa: PLC0415

    with Azurite() as azurite, TableMeter(azurite.endpoints.ports["table"]) as meter:
        storage = AzuriteEndpoints({**azurite.endpoints.ports, "table": meter.port})
        spec = StackSpec(
            seed=options.seed,
            badges=options.badges,
            storage=storage.connection_string,
            prefix="",
            credly_latency_s=CREDLY_PAGE_LATENCY_S,
            graph_latency_s=GRAPH_LATENCY_S,
            write_limit=limit,
            env={"GRAPH_WRITE_RATE": ""},
            retry_after=retry_after,
        )
        with running_standins(CHILD, spec) as standins:
            assert isinstance(standins, ChildStandIns)
            env = standins.facts["env"]
            host_options: dict[str, Any] = {"instances": instances, "timers": False}
            if options.host_json is not None:
                host_options["host_json"] = options.host_json
            queues = _queue_options(options.host_json or HOST_JSON)
            with FunctionsHost(env, **host_options) as host:
                for number, step in enumerate(options.crawls):
                    crawl = measure_crawl(
                        host,
                        standins,
                        meter,
                        step,
                        limit=limit,
                        webhook=options.webhook and step.kind == FULL and number == 0,
                        timeout_s=options.timeout_s,
                    )
                    crawl["run"] = f"{run_label(limit, retry_after, instances)} / {step.label}"
                    crawl.update(
                        instances=instances,
                        graph_write_limit_per_s=limit,
                        retry_after=retry_after,
                        queues=queues,
                    )
                    on_crawl(crawl)


def _queue_options(path: Path) -> dict[str, int]:
    """host.json's batchSize and newBatchThreshold, recorded with each crawl."""
    queues = json.loads(path.read_text(encoding="utf-8"))["extensions"]["queues"]
    return {name: int(queues[name]) for name in ("batchSize", "newBatchThreshold")}


def _numbers(kind: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            values = tuple(kind(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list") from None
        if not values or any(value <= 0 for value in values):
            raise argparse.ArgumentTypeError(f"{text!r}: give positive numbers")
        return values

    return parse


def _variants(text: str) -> tuple[bool, ...]:
    names = {"yes": True, "no": False}
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or any(part not in names for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: give yes, no or yes,no")
    return tuple(names[part] for part in parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the matrix, write the results; 0 when every crawl passed."""
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__)
    parser.add_argument("--instances", type=_numbers(int), default=(1, 2, 4), help="e.g. 1,2,4,8")
    parser.add_argument("--limits", type=_numbers(float), default=(25.0,), help="e.g. 25,100")
    parser.add_argument(
        "--retry-after",
        type=_variants,
        default=(True,),
        help="429s over the limit with Retry-After (yes), without (no), or both (yes,no)",
    )
    parser.add_argument("--badges", type=int, default=SMALL_BADGES, help="organisation size")
    parser.add_argument("--no-webhook", action="store_true", help="skip the webhook probe")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per crawl")
    parser.add_argument(
        "--host-json", type=Path, help="the host.json to run (the app's by default)"
    )
    parser.add_argument(
        "--append", action="store_true", help="keep the crawls already in the results file"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    args = parser.parse_args(argv)
    options = ScaleoutOptions(
        instances=args.instances,
        limits=args.limits,
        retry_after=args.retry_after,
        badges=args.badges,
        webhook=not args.no_webhook,
        timeout_s=args.timeout,
        host_json=args.host_json,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from bench.scaleout_report import run_and_report  # noqa: PLC0415

    try:
        document = run_and_report(options, args.out, sys.stdout, append=args.append)
    except KeyboardInterrupt:
        sys.stderr.write("stopped; the results of the crawls measured so far are written\n")
        return 130
    return 0 if all(v["outcome"] != "FAIL" for v in document["targets"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
