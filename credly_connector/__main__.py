"""Command line of the connector: `python -m credly_connector <command>`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence

from credly_connector import about
from credly_connector.errors import ConfigurationError


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m credly_connector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("version", help="print the product name and version as JSON")
    crawl = commands.add_parser(
        "crawl", help="run one crawl to completion through the configured storage's queues"
    )
    crawl.add_argument("--kind", choices=("full", "incremental"), default="incremental")
    crawl.add_argument("--workers", type=int, default=4, help="handler threads (default 4)")
    crawl.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")
    crawl.add_argument("--quiet", action="store_true", help="no progress bar")
    crawl.add_argument(
        "--organization", help="the organisation id to crawl (default: every configured one)"
    )
    # Each command: its name -> the function running it (add new commands here).
    runners: dict[str, Callable[[argparse.Namespace], int]] = {
        "crawl": _crawl,
    }
    args = parser.parse_args(argv)
    if args.command == "version":
        sys.stdout.write(json.dumps(about()) + "\n")
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return runners[args.command](args)
    except ConfigurationError as error:
        sys.stderr.write(f"{error}\n")
        return 2


def _crawl(args: argparse.Namespace) -> int:
    # Imported here so `version` works without the runtime's dependencies configured.
    from credly_connector.local.crawl import print_summary, run_crawl  # noqa: PLC0415
    from credly_connector.local.progress import Progress  # noqa: PLC0415
    from credly_connector.runtime import build_context  # noqa: PLC0415
    from credly_connector.settings import load_settings  # noqa: PLC0415

    ctx = build_context(load_settings(os.environ))
    organizations = [args.organization] if args.organization else ctx.options.organizations
    if args.organization and args.organization not in ctx.options.organizations:
        sys.stderr.write(f"organisation {args.organization} is not configured\n")
        return 2
    succeeded = True
    for organization in organizations:
        result = run_crawl(
            ctx,
            args.kind,
            organization_id=organization,
            workers=args.workers,
            timeout_s=args.timeout,
            progress=None if args.quiet else Progress(),
        )
        print_summary(result, sys.stdout)
        succeeded = succeeded and result.succeeded
    return 0 if succeeded else 1


if __name__ == "__main__":
    raise SystemExit(main())
