"""`python -m devstack host`: run the function app as the Functions host would, until Ctrl-C.

Once every instance serves it prints one line on stdout (and nothing else there):

    host ready: http://127.0.0.1:7071/api (key KEY) instances 2

matched by `devstack.host.cli.READY_LINE`. Logs (failures, timeouts, poison moves,
restarts) go to stderr.
Exit codes: 0 after Ctrl-C/SIGTERM, 2 when it cannot start (the reason on one line).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
from pathlib import Path

from devstack.host.startup import HostStartError

HELP = "run function_app.py as the Functions host would: HTTP, queues, timers"
READY_LINE = re.compile(r"^host ready: (?P<url>\S+) \(key (?P<key>\S+)\) instances (?P<n>\d+)$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The host's options (shared by `python -m devstack host` and this module)."""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (0: any free port)")
    parser.add_argument("--key", help="the function key (default: a generated one)")
    parser.add_argument(
        "--instances", type=int, default=1, metavar="N", help="host instances (default 1)"
    )
    parser.add_argument("--no-timers", action="store_true", help="timers do not fire")
    parser.add_argument(
        "--message-lease",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="visibility of a received message, renewed at half (default 600, as the host)",
    )
    parser.add_argument(
        "--function-timeout",
        type=float,
        metavar="SECONDS",
        help="overrides host.json functionTimeout",
    )
    parser.add_argument(
        "--host-json", type=Path, metavar="PATH", help="another host.json (default: the app's)"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long Ctrl-C lets running invocations finish (default 30)",
    )
    parser.add_argument(
        "--invocation-log",
        type=Path,
        metavar="PATH",
        help="append one JSON line per queue or timer invocation to PATH (function, "
        "trigger, instance, start, duration, outcome)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the function table as JSON and exit"
    )


def main(args: argparse.Namespace) -> int:
    """Run the host with parsed options; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    if args.list:
        import function_app  # noqa: PLC0415 - only this command needs the app
        from devstack.host.functions import function_table  # noqa: PLC0415

        table = function_table(function_app.app.get_functions())
        sys.stdout.write(json.dumps(table.describe(), indent=2) + "\n")
        return 0
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    from devstack.host.supervisor import FunctionsHost  # noqa: PLC0415 - after the handlers

    try:
        host = FunctionsHost(
            os.environ,
            instances=args.instances,
            key=args.key,
            port=args.port,
            timers=not args.no_timers,
            message_lease_s=args.message_lease,
            function_timeout_s=args.function_timeout,
            host_json=args.host_json,
            drain_timeout_s=args.drain_timeout,
            invocation_log=args.invocation_log,
        )
        host.start()
    except (HostStartError, ValueError, RuntimeError) as error:
        sys.stderr.write(f"host: cannot start: {error}\n")
        return 2
    try:
        if not stop.is_set():
            sys.stdout.write(
                f"host ready: {host.base_url}/api (key {host.key}) instances {args.instances}\n"
            )
            sys.stdout.flush()
        stop.wait()
        sys.stderr.write("host: stopping (letting running invocations finish)\n")
    finally:
        host.stop()
    return 0
