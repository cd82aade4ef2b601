"""Waiting for the user to stop a foreground command (Ctrl-C or SIGTERM), without a traceback."""

from __future__ import annotations

import signal
import sys
import threading


def wait_for_interrupt(message: str | None = "serving on 127.0.0.1; press Ctrl-C to stop") -> None:
    """Block until Ctrl-C or SIGTERM (later ones change nothing), having said so on stderr."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if message is not None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    stop.wait()
