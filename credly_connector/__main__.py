"""Command line of the connector: `python -m credly_connector <command>`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence

from credly_connector import about
from credly_connector.cli import admin, crawls
from credly_connector.cli.output import INTERRUPTED
from credly_connector.cli.parser import build_parser
from credly_connector.errors import ConfigurationError

# Each command: its name -> the function running it (add new commands here).
RUNNERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "crawl": crawls.crawl,
    "diagnose": admin.diagnose,
    "override": admin.override,
    "report": admin.report,
    "preview": crawls.preview,
    "status": crawls.status,
    "crawls": crawls.crawls,
    "cancel": crawls.cancel,
    "retry": crawls.retry,
    "setup": admin.setup,
    "health": admin.health,
    "settings": admin.settings,
    "teardown": admin.teardown,
    "rebuild": admin.rebuild,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit code."""
    args = build_parser(__doc__ or "").parse_args(argv)
    if args.command == "version":
        shown = about()
        sys.stdout.write(
            (json.dumps(shown) if args.json else f"{shown['name']} {shown['version']}") + "\n"
        )
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _observed(RUNNERS[args.command], args)
    except ConfigurationError as error:
        sys.stderr.write(f"{error}\n")
        return 2
    except KeyboardInterrupt:
        # Ctrl-C outside a crawl's dispatching (which says more itself): no traceback.
        sys.stderr.write("interrupted\n")
        return INTERRUPTED


def _observed(runner: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command with the SDK loggers quiet, in an `ops` telemetry scope.

    A table or queue missing because setup never ran ends it as a configuration error (its
    message and fix on standard error), as the routes answer it with a 503.
    """
    from credly_connector import telemetry  # noqa: PLC0415 - not needed by `version`
    from credly_connector.stores.tables import storage_required  # noqa: PLC0415

    telemetry.quiet_sdk_loggers()
    with telemetry.scope(stage="ops"), storage_required():
        return runner(args)


def _exit(code: int) -> None:
    """Leave with `code`; after Ctrl-C, without waiting for handlers it abandoned.

    An abandoned handler thread would hold the interpreter's exit until it returns (and a
    second Ctrl-C there prints a traceback from the thread pool's exit hook); its message
    reappears on the queue once its lease runs out, so nothing is lost by not waiting.
    """
    if code == INTERRUPTED:
        import threading  # noqa: PLC0415

        current = threading.current_thread()
        if any(t is not current and t.is_alive() and not t.daemon for t in threading.enumerate()):
            sys.stdout.flush()
            sys.stderr.flush()
            logging.shutdown()
            os._exit(code)
    raise SystemExit(code)


if __name__ == "__main__":
    _exit(main())
