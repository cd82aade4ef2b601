"""`python -m bench --scenario small|large|limits` (or `--all`): run and report benchmarks."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.report import RESULTS_DIR
from bench.runner import ADAPTIVE, TOLD, Options
from bench.scenarios import SCENARIOS
from bench.standins import CHILD, INLINE


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the scenarios; 0 when every crawl succeeded."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    which.add_argument("--all", action="store_true", help="every scenario, smallest first")
    parser.add_argument(
        "--standins",
        choices=(CHILD, INLINE),
        default=CHILD,
        help="serve the stand-ins from a child process (default) or from this one",
    )
    parser.add_argument(
        "--pacing",
        choices=(TOLD, ADAPTIVE),
        default=TOLD,
        help="GRAPH_WRITE_RATE = the limit (default), or far above it so the pacer adapts",
    )
    parser.add_argument("--workers", type=int, default=4, help="handler threads (default 4)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per crawl")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    parser.add_argument("--progress", action="store_true", help="show each crawl's progress")
    args = parser.parse_args(argv)
    names = ["small", "limits", "large"] if args.all else args.scenario
    options = Options(
        standins=args.standins,
        pacing=args.pacing,
        workers=args.workers,
        timeout_s=args.timeout,
        progress=args.progress,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    # Imported here so `--help` answers without loading the connector and the SDKs.
    from bench.benchmark import benchmark  # noqa: PLC0415
    from credly_connector import telemetry  # noqa: PLC0415
    from devstack.azurite import Azurite  # noqa: PLC0415

    telemetry.quiet_sdk_loggers()
    succeeded = True
    with Azurite() as azurite:
        for name in names:
            document = benchmark(SCENARIOS[name], options, azurite, args.out, sys.stdout)
            succeeded = succeeded and all(
                c["details"]["status"] == "succeeded" for c in document["crawls"]
            )
    return 0 if succeeded else 1


if __name__ == "__main__":
    raise SystemExit(main())
