"""What the loopback forwarders (TCP gate, tripwire) share: a listener that stops by itself.

A forwarder listens on 127.0.0.1, accepts in a daemon thread until it is stopped or its
`max_lifetime_s` has passed (so no test can leave one running), and hands each accepted
connection to its subclass, which serves it in daemon threads of its own.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import ClassVar, Self

from devstack.lifecycle import Service

LOOPBACK = "127.0.0.1"
_POLL_S = 0.05


class LoopbackForwarder(Service):
    """Listens on 127.0.0.1:<port> for connections to forward to a target port on 127.0.0.1.

    Subclasses name themselves in `noun` and `thread_name`, serve each connection in
    `_accepted` and may clean up in `_accept_loop_ended`.

    Args:
        target_port: The port on 127.0.0.1 to forward to.
        port: The port to listen on (0: a free one).
        max_lifetime_s: The forwarder stops accepting by itself this long after `start()`.
    """

    noun: ClassVar[str] = "forwarder"
    thread_name: ClassVar[str] = "loopback-forwarder"

    def __init__(self, target_port: int, *, port: int = 0, max_lifetime_s: float = 300.0) -> None:
        """Prepare the forwarder; `start()` listens."""
        self.target_port = target_port
        self.max_lifetime_s = max_lifetime_s
        self._port = port
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        """The port the forwarder listens on."""
        if self._listener is None:
            raise RuntimeError(f"the {self.noun} is not running")
        return int(self._listener.getsockname()[1])

    def start(self) -> Self:
        """Listen on 127.0.0.1 and forward in daemon threads."""
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, self._port))
        listener.listen(64)
        listener.settimeout(_POLL_S)
        self._listener = listener
        self._stopping.clear()
        deadline = time.monotonic() + self.max_lifetime_s
        thread = threading.Thread(
            target=self._accept_loop, args=(deadline,), name=self.thread_name, daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, close every connection and wait for the threads (idempotent)."""
        self._stopping.set()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads.clear()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None

    def _accept_loop(self, deadline: float) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set() and time.monotonic() < deadline:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._accepted(client)
        self._accept_loop_ended(listener)

    @abstractmethod
    def _accepted(self, client: socket.socket) -> None:
        """Serve one accepted connection (called in the accept thread: hand off quickly)."""

    def _accept_loop_ended(self, listener: socket.socket) -> None:
        """Called in the accept thread once stopped or past its lifetime (not on a socket error)."""

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        """Run `target(*args)` in a daemon thread that `stop()` waits for."""
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()


def reset_connection(sock: socket.socket) -> None:
    """Close with a TCP RST rather than a FIN, as a vanished peer would look."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
