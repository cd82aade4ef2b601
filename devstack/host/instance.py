"""One host instance: the app's HTTP, queue and timer triggers in this worker process.

`main` runs in a process the supervisor (`devstack.host.supervisor`) starts, with its
options as JSON on stdin; it prints `INSTANCE_READY <base URL or ->` on stdout once it
serves, then writes to stderr only. Exit codes: 0 after SIGTERM/SIGINT, 3 when it cannot
serve, `FUNCTION_TIMEOUT_EXIT` when a function outlived the function timeout (the host
restarts the worker then, and so does the supervisor).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from azure.core.exceptions import AzureError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from credly_connector.stores.transport import storage_transport
from devstack.host.functions import FunctionTable, function_table
from devstack.host.hostjson import HostSettings, read_host_json
from devstack.host.http import serve_functions
from devstack.host.invocation_log import InvocationLog
from devstack.host.invocations import Invocations, Running, worker_threads
from devstack.host.ncrontab import ScheduleError
from devstack.host.queues import LeaseRenewer, QueueListener
from devstack.host.startup import STORAGE
from devstack.host.timers import TIMER_TABLE, TimerRunner, timer_schedule

log = logging.getLogger("devstack.host")
READY = "INSTANCE_READY"
FUNCTION_TIMEOUT_EXIT = 81


@dataclass(frozen=True)
class InstanceOptions:
    """What the supervisor tells an instance (sent as JSON on its stdin); instance 0 serves HTTP."""

    index: int
    key: str
    port: int
    timers: bool
    queues: bool
    host_json: str
    message_lease_s: float
    function_timeout_s: float | None
    drain_timeout_s: float
    invocation_log: str | None = None
    """The file every instance appends one JSON line per invocation to (None: no log)."""


class Instance:
    """The triggers of one app in this process: HTTP (when asked), queues and timers."""

    def __init__(self, options: InstanceOptions, table: FunctionTable, host: HostSettings) -> None:
        self.options = options
        self.table = table
        self.host = host
        self.stopping = threading.Event()
        self.invocations = Invocations(
            worker_threads(os.environ),
            timeout_s=options.function_timeout_s or host.function_timeout_s,
            on_timeout=self._timed_out,
            log=InvocationLog(Path(options.invocation_log), options.index)
            if options.invocation_log
            else None,
        )
        self.renewer = LeaseRenewer(options.message_lease_s)
        self._threads: list[threading.Thread] = []
        self._listeners: list[QueueListener] = []
        self.server = (
            serve_functions(table.http, keys=[options.key], port=options.port)
            if options.index == 0
            else None
        )

    def start(self) -> str:
        """Start serving; returns the HTTP base URL, or `-` when this instance has no HTTP."""
        if self.options.queues and self.table.queues:
            services: dict[str, QueueServiceClient] = {}
            self.renewer.start()
            for queued in self.table.queues:
                # Each trigger's storage is the one its binding's `connection` setting names.
                if queued.connection not in services:
                    services[queued.connection] = QueueServiceClient.from_connection_string(
                        os.environ[queued.connection], transport=storage_transport()
                    )
                listener = QueueListener(
                    queued,
                    services[queued.connection],
                    self.host.queues,
                    invocations=self.invocations,
                    renewer=self.renewer,
                    stopping=self.stopping,
                )
                self._listeners.append(listener)
                self._threads.append(listener.thread)
        if self.options.timers and self.table.timers:
            tables = TableServiceClient.from_connection_string(os.environ[STORAGE])
            timer_table = tables.create_table_if_not_exists(TIMER_TABLE)
            for function in self.table.timers:
                try:
                    schedule = timer_schedule(function, os.environ)
                except ScheduleError as error:
                    if self.options.index == 0:  # one line per host, not per instance
                        log.error("%s; the timer is off", error)
                    continue
                runner = TimerRunner(
                    function,
                    schedule,
                    timer_table,
                    invocations=self.invocations,
                    stopping=self.stopping,
                )
                self._threads.append(runner.thread)
        if self.server is not None:
            self.server.start()
        for thread in self._threads:
            thread.start()
        return self.server.base_url if self.server is not None else "-"

    def stop(self) -> bool:
        """Stop taking messages and timers, let running invocations end (True: all ended)."""
        self.stopping.set()
        # Listeners and timers end first, so nothing is submitted once the pool is closed.
        for thread in self._threads:
            thread.join(timeout=15)
        index, drain_s = self.options.index, self.options.drain_timeout_s
        if running := self.invocations.running:
            log.warning(
                "instance %d stopping: letting %d running invocations finish (up to %.0f s)",
                index,
                running,
                drain_s,
            )
        ended = self.invocations.drain(drain_s)
        # An ended invocation's message is deleted (or released) just after: let that finish.
        for listener in self._listeners:
            listener.wait_settled(10.0 if ended else 0.0)
        if not ended:
            log.warning(
                "instance %d: %d invocations still running after %.0f s; their messages "
                "reappear after their lease",
                index,
                self.invocations.running,
                drain_s,
            )
        self.renewer.stop()
        if self.server is not None:
            self.server.stop()
        return ended

    def _timed_out(self, running: Running) -> None:
        log.error(
            "%s timed out after %g s (%s); restarting the worker",
            running.function,
            self.invocations.timeout_s or 0,
            running.detail,
        )
        # As the host does: the worker process is replaced; the message is not deleted and
        # comes back after its lease.
        os._exit(FUNCTION_TIMEOUT_EXIT)


def main() -> NoReturn:
    """Run one instance until SIGTERM/SIGINT (or until its supervisor is gone)."""
    options = InstanceOptions(**json.loads(sys.stdin.read()))
    # One line per failure, timeout or poison move; the SDKs' per-request chatter off.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr
    )
    for name in ("azure", "urllib3", "msal"):
        logging.getLogger(name).setLevel(logging.ERROR)
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
