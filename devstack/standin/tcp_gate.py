"""A loopback TCP forwarder that can be shut and reopened while it runs: an outage on command.

Put between a client and a service (e.g. the pipeline and Azurite's table and queue ports),
it forwards bytes both ways while open. Shut, it aborts every open connection with a TCP
reset and resets each new one at once, so the client sees the service as unreachable. It
reopens on `open()`, after `shut_for(seconds)` by itself, and stops serving by itself after
`max_lifetime_s`, so no test can leave it running.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from typing import cast

from devstack.standin.loopback import LOOPBACK, LoopbackForwarder, reset_connection

_CHUNK = 64 * 1024
_POLL_S = 0.05
_SEND_TIMEOUT_S = 30.0


class TcpGate(LoopbackForwarder):
    """Forwards 127.0.0.1:<port> to a target port; `shut()` makes the target unreachable.

    Attributes:
        accepted: Connections accepted so far (forwarded or reset).
        refused: Connections reset at once because the gate was shut.
        aborted: Open connections reset when the gate was shut.

    Args:
        target_port: The port on 127.0.0.1 to forward to.
        port: The port to listen on (0: a free one).
        max_lifetime_s: The gate stops by itself this long after `start()`.
    """

    noun = "gate"
    thread_name = "tcp-gate"

    def __init__(self, target_port: int, *, port: int = 0, max_lifetime_s: float = 300.0) -> None:
        """Prepare an open gate; `start()` listens."""
        super().__init__(target_port, port=port, max_lifetime_s=max_lifetime_s)
        self.accepted = 0
        self.refused = 0
        self.aborted = 0
        self._pipes: set[_Pipe] = set()
        self._open = threading.Event()
        self._reopen: threading.Timer | None = None
        self._open.set()

    def stop(self) -> None:
        """Stop listening, reset every connection and wait for the threads (idempotent)."""
        self._stopping.set()
        if self._reopen is not None:
            self._reopen.cancel()
        self._abort_all()
        super().stop()

    # -- the outage ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the gate still accepts connections (False once stopped or expired)."""
        return any(t.is_alive() and t.name == self.thread_name for t in self._threads)

    @property
    def is_open(self) -> bool:
        """Whether connections are forwarded."""
        return self._open.is_set()

    def shut(self) -> None:
        """Reset every open connection, and every new one until `open()`.

        Returns once the open connections are reset, so nothing is forwarded after it.
        """
        with self._lock:
            self._open.clear()
            pipes = list(self._pipes)
            self.aborted += len(pipes)
        for pipe in pipes:
            pipe.abort()
        for pipe in pipes:
            pipe.closed.wait(_SEND_TIMEOUT_S)

    def open(self) -> None:
        """Forward new connections again."""
        self._open.set()

    def shut_for(self, seconds: float) -> None:
        """Shut now and reopen by itself after `seconds` (returns at once)."""
        if self._reopen is not None:
            self._reopen.cancel()
        self.shut()
        timer = threading.Timer(seconds, self.open)
        timer.daemon = True
        self._reopen = timer
        timer.start()

    # -- forwarding ------------------------------------------------------------------------

    def _accepted(self, client: socket.socket) -> None:
        with self._lock:
            self.accepted += 1
            refused = not self._open.is_set()
            if refused:
                self.refused += 1
        if refused:
            reset_connection(client)
            return
        try:
            upstream = socket.create_connection((LOOPBACK, self.target_port), timeout=5)
        except OSError:
            reset_connection(client)
            return
        client.settimeout(_SEND_TIMEOUT_S)
        upstream.settimeout(_SEND_TIMEOUT_S)
        pipe = _Pipe(client, upstream)
        with self._lock:
            # Decided under the lock `shut()` takes, so no pipe slips past a shut.
            admitted = self._open.is_set()
            if admitted:
                self._pipes.add(pipe)
            else:
                self.refused += 1
        if not admitted:
            pipe.close()
            return
        self._spawn(self._pump, pipe)

    def _accept_loop_ended(self, listener: socket.socket) -> None:
        # Past its lifetime (or stopped): release the port too, so clients are refused.
        self._abort_all()
        with contextlib.suppress(OSError):
            listener.close()

    def _pump(self, pipe: _Pipe) -> None:
        try:
            pipe.run(self._stopping)
        finally:
            with self._lock:
                self._pipes.discard(pipe)
            pipe.close()

    def _abort_all(self) -> None:
        with self._lock:
            pipes = list(self._pipes)
        for pipe in pipes:
            pipe.abort()


class _Pipe:
    """One forwarded connection: bytes both ways until either side closes or it is aborted.

    Only the pump thread touches the sockets; `abort()` asks it to reset them (within one
    poll interval), so no socket is closed under another thread's feet.
    """

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()
        self._aborted = threading.Event()

    def run(self, stopping: threading.Event) -> None:
        """Forward until a side closes, the gate stops, or `abort()` is called."""
        peers = {self.client: self.upstream, self.upstream: self.client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while not (stopping.is_set() or self._aborted.is_set()):
                for key, _ in selector.select(_POLL_S):
                    if self._aborted.is_set():
                        return
                    source = cast(socket.socket, key.fileobj)
                    try:
                        data = source.recv(_CHUNK)
                        if not data:
                            return
                        peers[source].sendall(data)
                    except OSError:
                        return

    def abort(self) -> None:
        """Ask the pump thread to reset both sides."""
        self._aborted.set()

    def close(self) -> None:
        """Reset both sides (called by the pump thread when it ends)."""
        reset_connection(self.client)
        reset_connection(self.upstream)
        self.closed.set()
