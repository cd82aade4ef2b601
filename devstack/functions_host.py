"""A local stand-in for the Functions host: the app's HTTP functions on loopback, in a child.

`FunctionsHost` runs the function app in a child process whose environment is exactly the
app settings it is given, as the Functions host runs a worker: `function_app.context()`
builds its pipeline context from that environment on first use, once per process, so every
host gets a context of its own and the caller's `os.environ` is never touched. The child
serves the app's HTTP functions with `devstack.functions_http.serve_functions`.

Run it by hand with the app settings in the environment:
`python -m devstack.functions_host --port 7071 --key KEY`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self
from urllib.parse import urlencode

from devstack.functions_http import ROUTE_PREFIX, http_functions, serve_functions
from devstack.lifecycle import Service

REPO_ROOT = Path(__file__).resolve().parent.parent
READY = "FUNCTIONS_HOST_READY"
# The child sees only these of the caller's variables, plus the app settings it is given.
SYSTEM_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


class FunctionsHost(Service):
    """The function app's HTTP functions served from a child process with the given settings.

    Args:
        env: The app settings (the child's whole environment, besides PATH and the like).
        keys: Function keys the `FUNCTION`-level routes accept.
        admin_keys: Master keys (also accepted by `ADMIN`-level routes).
        port: Fixed port (0: any free port).
        startup_timeout_s: How long to wait for the child to listen.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        keys: Sequence[str],
        admin_keys: Sequence[str] = (),
        port: int = 0,
        startup_timeout_s: float = 60.0,
    ) -> None:
        if not keys and not admin_keys:
            raise ValueError("give at least one function key")
        self.env = dict(env)
        self.keys = tuple(keys)
        self.admin_keys = tuple(admin_keys)
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[str] | None = None
        self._base_url: str | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` of the running host."""
        if self._base_url is None:
            raise RuntimeError("the functions host is not running")
        return self._base_url

    @property
    def pid(self) -> int | None:
        """The child process id while it runs."""
        return None if self._process is None else self._process.pid

    def url(self, route: str, *, key: str | None = None) -> str:
        """The URL of a route (below `/api/`), with `?code=<key>` when a key is given."""
        url = f"{self.base_url}/{ROUTE_PREFIX}/{route.lstrip('/')}"
        return f"{url}?{urlencode({'code': key})}" if key else url

    def start(self) -> Self:
        """Start the child and wait until it listens."""
        with self._lock:
            if self._process is not None:
                return self
            env = {name: os.environ[name] for name in SYSTEM_VARIABLES if name in os.environ}
            env.update(self.env)
            env["PYTHONPATH"] = str(REPO_ROOT)
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "devstack.functions_host", "--port", str(self.port)],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            self._process = process
            try:
                assert process.stdin is not None
                process.stdin.write(json.dumps({"keys": self.keys, "adminKeys": self.admin_keys}))
                process.stdin.close()
                self._base_url = self._await_ready(process)
            except BaseException:
                self._end(process)
                self._process = None
                raise
        return self

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL if it does not end in time)."""
        with self._lock:
            process, self._process, self._base_url = self._process, None, None
        if process is not None:
            self._end(process)

    def _await_ready(self, process: subprocess.Popen[str]) -> str:
        assert process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError(f"the functions host exited with {process.wait()}")
                if line.startswith(READY):
                    return line.split()[1]
        raise RuntimeError(f"the functions host did not listen in {self.startup_timeout_s} s")

    @staticmethod
    def _end(process: subprocess.Popen[str]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve `function_app`'s HTTP functions until SIGTERM/SIGINT (the child's entry point).

    Keys come from `--key`/`--admin-key`, or as JSON `{"keys": [...], "adminKeys": [...]}`
    on stdin when none is given on the command line.
    """
    parser = argparse.ArgumentParser(prog="python -m devstack.functions_host")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", action="append", default=[], help="a function key")
    parser.add_argument("--admin-key", action="append", default=[], help="a master key")
    args = parser.parse_args(argv)
    keys, admin_keys = list(args.key), list(args.admin_key)
    if not keys and not admin_keys:
        given = json.loads(sys.stdin.read() or "{}")
        keys, admin_keys = list(given.get("keys", [])), list(given.get("adminKeys", []))
    import function_app  # noqa: PLC0415 - imported in the process that serves it

    # The connector's own lines, without the Azure SDK's per-request chatter.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("credly_connector").setLevel(logging.INFO)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    functions = http_functions(function_app.app.get_functions())
    server = serve_functions(functions, keys=keys, admin_keys=admin_keys, port=args.port)
    with server:
        sys.stdout.write(f"{READY} {server.base_url}\n")
        sys.stdout.flush()
        # Nobody reads the pipe past the ready line: anything printed later goes to stderr.
        sys.stdout = sys.stderr
        while not stopping.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
