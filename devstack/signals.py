"""Waiting for the user to stop a foreground command (Ctrl-C or SIGTERM), without a traceback."""

from __future__ import annotations

import signal
import sys
import threading


def wait_for_interrupt(message: str = "serving on 127.0.0.1; press Ctrl-C to stop") -> None:
    """Block until Ctrl-C or SIGTERM, having said so on standard error."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    stop.wait()
