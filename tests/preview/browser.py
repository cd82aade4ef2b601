"""A headless Chromium (the system's `chromium` package) driven over the DevTools protocol.

Only loopback: the browser listens for DevTools on 127.0.0.1, and its host resolver answers
"not found" for every name, so a page can reach 127.0.0.1 and file URLs and nothing else.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websocket
from PIL import Image

MISSING = (
    "Chromium is not installed, and the preview page's browser test needs it: "
    "run `apt-get install -y chromium` (scripts/bootstrap.sh does it when missing)."
)
START_TIMEOUT_S = 20.0
CALL_TIMEOUT_S = 20.0
FLAGS = (
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


class BrowserError(RuntimeError):
    """The browser did not start, or answered a DevTools call with an error."""


def chromium_path() -> str | None:
    """The system Chromium, or None when it is not installed."""
    return shutil.which("chromium")


def start_chromium(profile: Path) -> Chromium:
    """A headless Chromium using `profile`; fails the test (never skips it) when missing."""
    executable = chromium_path()
    if executable is None:
        pytest.fail(MISSING)
    return Chromium(executable, profile)


class Chromium:
    """One headless Chromium process and its first page, driven over one DevTools socket."""

    def __init__(self, executable: str, profile: Path) -> None:
        self._log = (profile / "chromium.log").open("wb")
        args = [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        if os.geteuid() == 0:  # Chromium refuses to run its sandbox as root
            args.insert(1, "--no-sandbox")
        self.process = subprocess.Popen(  # noqa: S603 - the system chromium, fixed flags
            args, stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True
        )
        self._ids = itertools.count(1)
        try:
            port = self._port(profile / "DevToolsActivePort")
            self._socket = websocket.create_connection(
                self._page_socket_url(port), timeout=CALL_TIMEOUT_S, suppress_origin=True
            )
        except BaseException:
            self.close()
            raise

    def _port(self, port_file: Path) -> int:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited with {self.process.returncode}")
            lines = port_file.read_text().splitlines() if port_file.exists() else []
            if lines and lines[0].isdigit():
                return int(lines[0])
            time.sleep(0.05)
        raise BrowserError(f"chromium did not open its DevTools port in {START_TIMEOUT_S} s")

    @staticmethod
    def _page_socket_url(port: int) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.load(r)
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.05)
        raise BrowserError("chromium opened no page")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events on the way are dropped)."""
        call_id = next(self._ids)
        self._socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_TIMEOUT_S
        while time.monotonic() < deadline:
            message = json.loads(self._socket.recv())
            if message.get("id") != call_id:
                continue
            if "error" in message:
                raise BrowserError(f"{method}: {message['error']}")
            return dict(message.get("result") or {})
        raise BrowserError(f"{method}: no answer in {CALL_TIMEOUT_S} s")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (awaited when a promise)."""
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 10.0) -> Any:
        """Poll until a JavaScript expression is truthy; return its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.05)

    def open(self, url: str, *, width: int, height: int, mobile: bool) -> None:
        """Load `url` in a viewport of `width` x `height` CSS pixels and wait for its load."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        self.call("Page.navigate", url=url)
        if not self.wait_for(
            f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
        ):
            raise BrowserError(f"{url} did not load")

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport coordinates (as a person's would be)."""
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, box: dict[str, float]) -> Image.Image:
        """What the viewport shows inside `box` (x, y, width, height in CSS pixels), as RGB."""
        # The clip is in page coordinates: the box's viewport ones plus the scroll offset.
        scroll = self.evaluate("[scrollX, scrollY]")
        x, y = box["x"] + scroll[0], box["y"] + scroll[1]
        clip = {"x": x, "y": y, "width": box["width"], "height": box["height"], "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip)["data"]
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")

    def close(self) -> None:
        """Close the socket and end the browser process (and its children) it started."""
        socket = getattr(self, "_socket", None)
        if socket is not None:
            socket.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
