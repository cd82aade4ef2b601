"""The stand-ins' request log: every request, bounded, with counters that never drop."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the log keeps it (no bodies, no credentials)."""

    seq: int
    at: float
    method: str
    path: str
    query: str
    route_class: str
    status: int
    outcome: str
    duration_s: float
    body_bytes: int


class RequestLog:
    """Thread-safe, bounded log of requests with counters that never drop."""

    def __init__(self, max_entries: int = 500_000) -> None:
        """An empty log keeping at most `max_entries` requests."""
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, **fields: Any) -> LoggedRequest:
        """Append one request."""
        with self._lock:
            self._seq += 1
            entry = LoggedRequest(seq=self._seq, **fields)
            self._entries.append(entry)
            self._counts[(entry.route_class, entry.method, entry.status)] += 1
            return entry

    def entries(
        self, route_class: str | None = None, method: str | None = None
    ) -> list[LoggedRequest]:
        """The logged requests, optionally of one route class and method."""
        with self._lock:
            return [
                e
                for e in self._entries
                if (route_class is None or e.route_class == route_class)
                and (method is None or e.method == method)
            ]

    def count(
        self, route_class: str | None = None, method: str | None = None, status: int | None = None
    ) -> int:
        """How many requests matched (counted even when the bounded log dropped them)."""
        with self._lock:
            return sum(
                n
                for (cls, meth, st), n in self._counts.items()
                if (route_class is None or cls == route_class)
                and (method is None or meth == method)
                and (status is None or st == status)
            )

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._entries.clear()
            self._counts.clear()
