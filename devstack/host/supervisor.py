"""The supervisor: N host instances on one storage, restarted when they exit, stopped on demand."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Self
from urllib.parse import urlencode

from devstack.host.hostjson import HostJsonError, read_host_json
from devstack.host.http import ROUTE_PREFIX
from devstack.host.instance import FUNCTION_TIMEOUT_EXIT, READY, InstanceOptions
from devstack.host.startup import HostStartError, check_app_settings, check_port, check_storage
from devstack.lifecycle import Service

log = logging.getLogger("devstack.host")
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# The instances see only these of the caller's variables, plus the app settings given.
SYSTEM_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
STARTUP_TIMEOUT_S = 60.0
# An instance that keeps failing soon after its start is restarted less and less often.
QUICK_FAILURE_S = 10.0
MAX_RESTART_DELAY_S = 30.0


@dataclass
class _Slot:
    """One instance place: its current process, when it started, and its quick failures."""

    index: int
    process: subprocess.Popen[str] | None = None
    started: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None


class FunctionsHost(Service):
    """`function_app.py` run as the Functions host would, in `instances` worker processes.

    Instance 0 serves HTTP; every instance runs the queue triggers and the timers (each
    occurrence fires once across them). An instance that exits unexpectedly is replaced, as
    the platform replaces a failed one.

    Args:
        env: The app settings (the instances' whole environment, besides PATH and the like).
        instances: How many instances.
        key: The function key (a generated one when None).
        port: The HTTP port (0: any free port).
        timers: Whether timers fire.
        queues: Whether queue triggers run (False: HTTP and timers only).
        message_lease_s: How long a received message stays invisible between renewals.
        function_timeout_s: Overrides host.json's `functionTimeout`.
        host_json: The host.json to read (the app's by default).
        drain_timeout_s: How long a stopping instance lets running invocations finish.
        invocation_log: A file every instance appends one JSON line to per ended queue or
            timer invocation (see `devstack.host.invocation_log`); None: no log.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        instances: int = 1,
        key: str | None = None,
        port: int = 0,
        timers: bool = True,
        queues: bool = True,
        message_lease_s: float = 600.0,
        function_timeout_s: float | None = None,
        host_json: Path | None = None,
        drain_timeout_s: float = 30.0,
        invocation_log: Path | None = None,
    ) -> None:
        if instances < 1:
            raise ValueError("instances must be at least 1")
        if message_lease_s < 2:
            raise ValueError("message_lease_s must be at least 2 seconds")
        self.env = dict(env)
        self.key = key or secrets.token_urlsafe(24)
        self.port = port
        self.host_json = host_json or REPO_ROOT / "host.json"
        self.options = InstanceOptions(
            index=0,
            key=self.key,
            port=port,
            timers=timers,
            queues=queues,
            host_json=str(self.host_json),
            message_lease_s=message_lease_s,
            function_timeout_s=function_timeout_s,
            drain_timeout_s=drain_timeout_s,
            invocation_log=str(invocation_log.resolve()) if invocation_log else None,
        )
        self.restarts = 0
        self._instances = instances
        self._slots: list[_Slot] = []
        self._base_url: str | None = None
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._monitor: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` of the running host (no `/api`)."""
        if self._base_url is None:
            raise RuntimeError("the functions host is not running")
        return self._base_url

    def url(self, route: str, *, key: str | None = None, with_key: bool = True) -> str:
        """The URL of a route below `/api/`, with `?code=` (the host's key unless `key`)."""
        url = f"{self.base_url}/{ROUTE_PREFIX}/{route.lstrip('/')}"
        return f"{url}?{urlencode({'code': self.key if key is None else key})}" if with_key else url

    @property
    def instance_pids(self) -> list[int]:
        """The process ids of the live instances."""
        with self._lock:
            processes = [slot.process for slot in self._slots if slot.process is not None]
            return [process.pid for process in processes if process.poll() is None]

    def kill_instance(self, index: int) -> int:
        """SIGKILL instance `index` (it is replaced, as a crashed one); returns its pid."""
        with self._lock:
            process = self._slots[index].process
            if process is None:
                raise RuntimeError(f"instance {index} is not running")
            process.kill()
            return process.pid

    def start(self) -> Self:
        """Check the settings and storage, start every instance and wait until all serve.

        Raises:
            HostStartError: Bad settings, or storage not reachable (one line with the fix).
            RuntimeError: An instance did not start.
        """
        with self._lock:
            if self._slots:
                return self
            try:
                read_host_json(self.host_json)
            except HostJsonError as error:
                raise HostStartError(str(error)) from None
            check_port(self.port)
            check_storage(self.env)
            check_app_settings(self.env)
            self._stopping.clear()
            self._slots = [_Slot(index) for index in range(self._instances)]
            try:
                for slot in self._slots:
                    self._spawn(slot)
                for slot in self._slots:
                    url = self._await_ready(slot)
                    if slot.index == 0 and url != "-":
                        self._base_url = url
                        self.port = int(url.rsplit(":", 1)[1])
            except BaseException:
                self._stop_all()
                raise
            self._monitor = threading.Thread(
                target=self._watch, name="host-supervisor", daemon=True
            )
            self._monitor.start()
        return self

    def stop(self) -> None:
        """SIGTERM every instance, let them drain, SIGKILL what is left after the bound."""
        self._stopping.set()
        if self._monitor is not None:
            self._monitor.join(timeout=5)
            self._monitor = None
        with self._lock:
            self._stop_all()

    def _stop_all(self) -> None:
        processes = [slot.process for slot in self._slots if slot.process is not None]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.options.drain_timeout_s + 10
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
        self._slots = []
        self._base_url = None

    def _spawn(self, slot: _Slot) -> None:
        # A replaced instance 0 serves HTTP on the port its predecessor had.
        options = replace(self.options, index=slot.index, port=self.port)
        env = {name: os.environ[name] for name in SYSTEM_VARIABLES if name in os.environ}
        env.update(self.env)
        env["PYTHONPATH"] = str(REPO_ROOT)
        process = subprocess.Popen(
            [sys.executable, "-c", "from devstack.host.instance import main; main()"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            # Signals come from this supervisor only, so each instance drains exactly once.
            start_new_session=True,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(asdict(options)))
        process.stdin.close()
        slot.process = process
        slot.started = time.monotonic()

    def _await_ready(self, slot: _Slot) -> str:
        process = slot.process
        assert process is not None
        assert process.stdout is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline and not self._stopping.is_set():
                if not selector.select(timeout=min(0.5, max(0.0, deadline - time.monotonic()))):
                    continue
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError(
                        f"host instance {slot.index} exited with {process.wait()} before it was "
                        "ready (its error is above)"
                    )
                if line.startswith(READY):
                    return line.split()[1]
        raise RuntimeError(f"host instance {slot.index} was not ready in {STARTUP_TIMEOUT_S} s")

    def _watch(self) -> None:
        """Replace an instance that exited while the host runs."""
        while not self._stopping.wait(0.2):
            started = []
            with self._lock:
                for slot in self._slots:
                    code = None if slot.process is None else slot.process.poll()
                    if code is None or self._stopping.is_set():
                        continue
                    if slot.restart_at is None:
                        self._schedule_restart(slot, code)
                    if time.monotonic() >= (slot.restart_at or 0.0) and self._respawn(slot):
                        started.append(slot)
            # Waited for outside the lock, so pids and kills are answered meanwhile.
            for slot in started:
                try:
                    self._await_ready(slot)
                except RuntimeError as error:
                    if not self._stopping.is_set():
                        log.error("host instance %d did not restart: %s", slot.index, error)

    def _schedule_restart(self, slot: _Slot, code: int) -> None:
        # A function timeout is the function's fault, not the instance's: no pause then.
        timed_out = code == FUNCTION_TIMEOUT_EXIT
        quick = not timed_out and time.monotonic() - slot.started < QUICK_FAILURE_S
        slot.quick_failures = slot.quick_failures + 1 if quick else 0
        delay = min(MAX_RESTART_DELAY_S, 2.0 ** (slot.quick_failures - 1)) if quick else 0.0
        slot.restart_at = time.monotonic() + delay
        why = "after a function timeout" if timed_out else f"with {code}"
        later = f" in {delay:g} s" if delay else ""
        log.warning("host instance %d exited %s; starting a new one%s", slot.index, why, later)

    def _respawn(self, slot: _Slot) -> bool:
        slot.restart_at = None
        if slot.process is not None and slot.process.stdout is not None:
            slot.process.stdout.close()
        self.restarts += 1
        try:
            self._spawn(slot)
        except OSError as error:
            log.error("host instance %d did not restart: %s", slot.index, error)
            slot.restart_at = time.monotonic() + MAX_RESTART_DELAY_S
            return False
        return True
