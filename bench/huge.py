"""`python -m bench.huge`: the generator's largest organisation through the local host fleet.

200,000 badges by default (`--badges 20000` to try it), 2 host instances, Graph items limited
to 400 writes/s: a full crawl, an incremental one after 1 % of the badges changed, and one
after no change. As `bench.scaleout`, crawls are requested over HTTP and measured where their
work arrives (the stand-ins' request logs, a counting forwarder in front of Azurite); besides,
the host writes its invocation log (`devstack.host.invocation_log`), from which each stage's
wall time and longest single invocation are read, and the resident memory of every process
of the run (each instance, the stand-ins, Azurite, this one) is sampled.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import RESULTS_DIR
from bench.scenarios import CREDLY_PAGE_LATENCY_S, GRAPH_LATENCY_S, THREE_CRAWLS, CrawlStep

HUGE_BADGES = 200_000
INSTANCES = 2
LIMIT = 400.0
TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class HugeOptions:
    """One `huge` run.

    Attributes:
        badges: The organisation's size.
        instances: Host instances.
        limit: Graph item writes per second the stand-in allows.
        graph_write_rate: `GRAPH_WRITE_RATE` of the app (empty: unset, the fleet finds it).
        crawls: The crawls, one after the other.
        timeout_s: A crawl not ended by then fails the run.
        host_json: The host.json the instances read (None: the app's).
        sample_s: Time between memory samples.
        keep_log: Where to copy the host's invocation log once the run ends (None: nowhere).
    """

    badges: int = HUGE_BADGES
    instances: int = INSTANCES
    limit: float = LIMIT
    graph_write_rate: str = ""
    seed: int = 6
    crawls: tuple[CrawlStep, ...] = THREE_CRAWLS
    timeout_s: float = TIMEOUT_S
    host_json: Path | None = None
    sample_s: float = 0.25
    keep_log: Path | None = None


def unfinished_crawl(
    step: CrawlStep, why: str, log: dict[str, Any], started: float, ended: float
) -> dict[str, Any]:
    """What is known of a crawl that did not end in time: its writes so far, its duration."""
    from bench.scaleout_figures import per_second  # noqa: PLC0415

    writes = [(at, status) for at, status in log["writes"] if at <= ended]
    accepted = [at for at, status in writes if 200 <= status < 300]
    wall_s = ended - started
    return {
        "label": step.label,
        "kind": step.kind,
        "status": f"did not end: {why}",
        "wall_s": round(wall_s, 2),
        "people": 0,
        "efficiency": 0.0,
        "graph_writes": len(accepted),
        "graph_429": sum(1 for _, status in writes if status == 429),
        "credly_requests": len(log["credly"]),
        "exact": False,
        "items_expected": 0,
        "items_wrong": 0,
        "badges_changed_at_credly": 0,
        "writes_per_s": per_second(accepted, started, wall_s),
    }


def run_huge(options: HugeOptions, on_crawl: Callable[[dict[str, Any]], None]) -> None:
    """A fresh stack and fleet; each crawl measured and handed to `on_crawl` as it ends."""
    # Imported here so `--help` answers without loading the SDKs.
    from bench.huge_figures import (  # noqa: PLC0415
        InstanceNames,
        crawl_invocations,
        longest_invocation,
        named_processes,
        stage_figures,
    )
    from bench.sampler import ProcessPeaks  # noqa: PLC0415
    from bench.scaleout_run import measure_crawl  # noqa: PLC0415
    from bench.standins import CHILD, ChildStandIns, StackSpec, running_standins  # noqa: PLC0415
    from bench.table_meter import TableMeter  # noqa: PLC0415
    from devstack.azurite import Azurite, AzuriteEndpoints  # noqa: PLC0415
    from devstack.host import FunctionsHost  # noqa: PLC0415
    from devstack.host.invocation_log import read_invocations  # noqa: PLC0415
    from devstack.ops_client import OpsError  # noqa: PLC0415

    with (
        tempfile.TemporaryDirectory(prefix="bench-huge-") as scratch,
        Azurite() as azurite,
        TableMeter(azurite.endpoints.ports["table"]) as meter,
    ):
        log_path = Path(scratch) / "invocations.jsonl"
        storage = AzuriteEndpoints({**azurite.endpoints.ports, "table": meter.port})
        spec = StackSpec(
            seed=options.seed,
            badges=options.badges,
            storage=storage.connection_string,
            prefix="",
            credly_latency_s=CREDLY_PAGE_LATENCY_S,
            graph_latency_s=GRAPH_LATENCY_S,
            write_limit=options.limit,
            env={"GRAPH_WRITE_RATE": options.graph_write_rate},
        )
        with running_standins(CHILD, spec) as standins:
            assert isinstance(standins, ChildStandIns)
            standins.snapshot()  # the ledger's starting point: what Graph holds now
            host_options: dict[str, Any] = {
                "instances": options.instances,
                "timers": False,
                "invocation_log": log_path,
            }
            if options.host_json is not None:
                host_options["host_json"] = options.host_json
            with FunctionsHost(standins.facts["env"], **host_options) as host:
                names = InstanceNames(options.instances)

                def roots() -> dict[str, int]:
                    found = {"bench (table meter)": os.getpid()}
                    for name, pid in (("azurite", azurite.pid), ("stand-ins", standins.pid)):
                        if pid is not None:
                            found[name] = pid
                    return found | {
                        f"instance pid {pid}": pid for pid in names.started(host.instance_pids)
                    }

                with ProcessPeaks(roots, options.sample_s) as sampler:
                    for step in options.crawls:
                        sampler.take_peaks()
                        started = time.monotonic()
                        unfinished = None
                        try:
                            crawl = measure_crawl(
                                host,
                                standins,
                                meter,
                                step,
                                limit=options.limit,
                                webhook=False,
                                timeout_s=options.timeout_s,
                            )
                        except OpsError as error:  # recorded as far as it got; no more crawls
                            unfinished = str(error)
                            log = standins.ask({"op": "log", "since": started})
                            crawl = unfinished_crawl(
                                step, unfinished, log, started, time.monotonic()
                            )
                        ended = time.monotonic()
                        peaks = sampler.take_peaks()
                        records = list(read_invocations(log_path))
                        mine = crawl_invocations(records, started, ended)
                        stages = stage_figures(mine, started)
                        stage, longest = longest_invocation(stages)
                        changed = standins.snapshot()
                        crawl.update(
                            run=f"{step.label}",
                            badges=int(standins.facts["badges"]),
                            people_in_world=int(standins.facts["people"]),
                            instances=options.instances,
                            limit=options.limit,
                            items_changed=int(changed["items_changed"]),
                            items_in_graph=int(changed["items"]),
                            stages=stages,
                            longest_invocation_stage=stage,
                            longest_invocation_s=longest,
                            invocations=len(mine),
                            invocations_failed=sum(s["failed"] for s in stages.values()),
                            invocations_timed_out=sum(s["timed_out"] for s in stages.values()),
                            peak_rss_mb=named_processes(peaks, names.of(records)),
                            host_restarts=host.restarts,
                        )
                        on_crawl(crawl)
                        if unfinished is not None:
                            break
        if options.keep_log is not None and log_path.exists():
            options.keep_log.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log_path, options.keep_log)


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r}: give a positive number")
        return value

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the crawls, write the results; 0 when no target failed."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.huge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--badges", type=_positive(int), default=HUGE_BADGES, help="organisation size"
    )
    parser.add_argument(
        "--instances", type=_positive(int), default=INSTANCES, help="host instances"
    )
    parser.add_argument(
        "--limit", type=_positive(float), default=LIMIT, help="Graph item writes/s allowed"
    )
    parser.add_argument(
        "--graph-write-rate",
        default="",
        metavar="N",
        help="the app's GRAPH_WRITE_RATE (default: unset, the fleet finds the limit)",
    )
    parser.add_argument(
        "--timeout", type=_positive(float), default=TIMEOUT_S, help="seconds per crawl"
    )
    parser.add_argument("--host-json", type=Path, help="the host.json to run (the app's)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    args = parser.parse_args(argv)
    options = HugeOptions(
        badges=args.badges,
        instances=args.instances,
        limit=args.limit,
        graph_write_rate=args.graph_write_rate,
        timeout_s=args.timeout,
        host_json=args.host_json,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from bench.huge_report import run_and_report  # noqa: PLC0415

    try:
        document = run_and_report(options, args.out, sys.stdout)
    except KeyboardInterrupt:
        sys.stderr.write("stopped; the results of the crawls measured so far are written\n")
        return 130
    return 0 if all(v["outcome"] != "FAIL" for v in document["targets"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
