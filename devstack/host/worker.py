"""A host instance's process: `python -m devstack.host.worker`, options as JSON on stdin.

Started by the supervisor (`devstack.host.supervisor`); prints `INSTANCE_READY <base URL or
->` on stdout once it serves, then writes to stderr only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

from azure.core.exceptions import AzureError

from devstack.host.functions import function_table
from devstack.host.hostjson import read_host_json
from devstack.host.instance import READY, Instance, InstanceOptions, quiet_logging


def main() -> NoReturn:
    """Run one instance until SIGTERM/SIGINT (or until its supervisor is gone)."""
    options = InstanceOptions(**json.loads(sys.stdin.read()))
    quiet_logging()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    parent = os.getppid()
    host = read_host_json(Path(options.host_json))
    import function_app  # noqa: PLC0415 - the worker imports the app, once

    instance = Instance(options, function_table(function_app.app.get_functions()), host)
    try:
        url = instance.start()
    except (OSError, AzureError) as error:  # the port is taken, or storage went away
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        sys.stderr.write(f"host instance {options.index} cannot serve: {reason}\n")
        os._exit(3)
    sys.stdout.write(f"{READY} {url}\n")
    sys.stdout.flush()
    # Nobody reads the pipe past the ready line: anything printed later goes to stderr.
    sys.stdout = sys.stderr
    while not stopping.wait(0.2):
        if os.getppid() != parent:  # the supervisor was killed: do not run on unsupervised
            break
    instance.stop()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    # Worker threads still running a function would keep the interpreter alive; the drain
    # bound is over, and their messages come back after their lease.
    os._exit(0)


if __name__ == "__main__":
    main()
