"""Command line of the connector: `python -m credly_connector <command>`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from credly_connector import about


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m credly_connector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("version", help="print the product name and version as JSON")
    args = parser.parse_args(argv)
    if args.command == "version":
        sys.stdout.write(json.dumps(about()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
