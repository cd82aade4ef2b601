"""One host instance: the app's HTTP, queue and timer triggers in this worker process.

`devstack.host.worker` is the process's entry point; exit codes: 0 after SIGTERM/SIGINT,
`FUNCTION_TIMEOUT_EXIT` when a function outlived the function timeout (the host restarts the
worker then, and so does the supervisor).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from credly_connector.stores.transport import storage_transport
from devstack.host.functions import FunctionTable
from devstack.host.hostjson import HostSettings
from devstack.host.http import serve_functions
from devstack.host.invocation_log import InvocationLog
from devstack.host.invocations import Invocations, Running, worker_threads
from devstack.host.ncrontab import ScheduleError
from devstack.host.queues import LeaseRenewer, QueueListener
from devstack.host.timers import TIMER_TABLE, TimerRunner, timer_schedule

log = logging.getLogger("devstack.host")
READY = "INSTANCE_READY"
FUNCTION_TIMEOUT_EXIT = 81
STORAGE = "AzureWebJobsStorage"
SETTLE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class InstanceOptions:
    """What the supervisor tells an instance (sent as JSON on its stdin)."""

    index: int
    key: str
    http: bool
    port: int
    timers: bool
    queues: bool
    host_json: str
    message_lease_s: float
    function_timeout_s: float | None
    drain_timeout_s: float
    invocation_log: str | None = None
    """The file every instance appends one JSON line per invocation to (None: no log)."""

    def to_json(self) -> str:
        """The options as one JSON document."""
        return json.dumps(asdict(self))


def quiet_logging() -> None:
    """One line per failure, timeout or poison move; the SDKs' per-request chatter off."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr
    )
    for name in ("azure", "urllib3", "msal"):
        logging.getLogger(name).setLevel(logging.ERROR)


class Instance:
    """The triggers of one app in this process: HTTP (when asked), queues and timers."""

    def __init__(self, options: InstanceOptions, table: FunctionTable, host: HostSettings) -> None:
        self.options = options
        self.table = table
        self.host = host
        self.stopping = threading.Event()
        timeout = options.function_timeout_s or host.function_timeout_s
        self.invocation_log = (
            InvocationLog(Path(options.invocation_log), options.index)
            if options.invocation_log
            else None
        )
        self.invocations = Invocations(
            worker_threads(os.environ),
            timeout_s=timeout,
            on_timeout=self._timed_out,
            log=self.invocation_log,
        )
        self.renewer = LeaseRenewer(options.message_lease_s)
        self._threads: list[threading.Thread] = []
        self._listeners: list[QueueListener] = []
        self.server = (
            serve_functions(table.http, keys=[options.key], port=options.port)
            if options.http
            else None
        )

    def start(self) -> str:
        """Start serving; returns the HTTP base URL, or `-` when this instance has no HTTP."""
        threads = self._threads
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
                threads.append(listener.thread)
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
                threads.append(runner.thread)
        if self.server is not None:
            self.server.start()
        for thread in threads:
            thread.start()
        return self.server.base_url if self.server is not None else "-"

    def stop(self) -> bool:
        """Stop taking messages and timers, let running invocations end (True: all ended)."""
        self.stopping.set()
        # Listeners and timers end first, so nothing is submitted once the pool is closed.
        for thread in self._threads:
            thread.join(timeout=15)
        running = self.invocations.running
        if running:
            log.warning(
                "instance %d stopping: letting %d running invocations finish (up to %.0f s)",
                self.options.index,
                running,
                self.options.drain_timeout_s,
            )
        ended = self.invocations.drain(self.options.drain_timeout_s)
        # An ended invocation's message is deleted (or released) just after: let that finish.
        for listener in self._listeners:
            listener.wait_settled(SETTLE_TIMEOUT_S if ended else 0.0)
        if not ended:
            log.warning(
                "instance %d: %d invocations still running after %.0f s; their messages "
                "reappear after their lease",
                self.options.index,
                self.invocations.running,
                self.options.drain_timeout_s,
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
