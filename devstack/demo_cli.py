"""`python -m devstack demo`: its options, and the call into `devstack.demo` (imported late)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "the app on the local host: setup, crawls, a webhook, changes, all over HTTP"


def add_arguments(demo: argparse.ArgumentParser) -> None:
    """The demo's options."""
    demo.add_argument("--badges", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--instances", type=int, default=1, help="host instances (default 1)")
    demo.add_argument(
        "--preview-out", type=Path, help="directory of the dry run's preview page (default: temp)"
    )
    demo.add_argument(
        "--serve", action="store_true", help="keep the stack and the host running until Ctrl-C"
    )
    demo.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env.local"),
        help="with --serve: where the running stack's settings go (default .env.local)",
    )


def main(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every crawl succeeded and the webhook arrived."""
    from devstack.demo import run_demo  # noqa: PLC0415 - imports the connector

    try:
        return run_demo(
            sys.stdout,
            badges=args.badges,
            seed=args.seed,
            instances=args.instances,
            preview_dir=args.preview_out,
            serve=args.serve,
            env_file=args.env_file,
        )
    except KeyboardInterrupt:
        sys.stderr.write("demo stopped\n")
        return 130
