"""Request counters: the connector's Credly and Graph observers, and Storage at the HTTP level.

The Credly and Graph counts come from the observers the composition root offers
(`runtime.Hooks`), so they see every attempt the connector's clients make. Storage is counted
by the Azure SDK clients' own response hooks (`raw_response_hook`), one count per HTTP request
(a transaction of up to 100 entities is one request), attributed to the pipeline stage whose
thread made it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from credly_connector import telemetry

WRITE_KINDS = frozenset({"items.put", "items.delete"})
_MESSAGE = re.compile(rb"<QueueMessage>")
# Thread names of the pipeline's own pools, for work that runs outside a telemetry scope.
_TABLE_WRITES = {
    "PUT": "write",
    "MERGE": "write",
    "PATCH": "write",
    "POST": "insert",
    "DELETE": "delete",
}
_THREAD_STAGES = (("pages", "pages"), ("profiles", "profiles"), ("dispatch", "dispatch"))


def current_stage() -> str:
    """The pipeline stage the calling thread works for (`local` for the dispatcher's loop)."""
    stage = telemetry.current_labels().get("stage")
    if stage:
        return stage
    name = threading.current_thread().name
    for prefix, label in _THREAD_STAGES:
        if name.startswith(prefix):
            return label
    return "local"


@dataclass
class Tally:
    """Counts since the last `reset`, and the time of each Graph write or 429 answer."""

    credly: int = 0
    graph_writes: int = 0
    graph_429: int = 0
    graph_reads: int = 0
    graph_other: int = 0
    write_times: list[float] = field(default_factory=list)
    throttle_times: list[float] = field(default_factory=list)
    table_ops: Counter[str] = field(default_factory=Counter)
    table_by_stage: Counter[str] = field(default_factory=Counter)
    queue_ops: Counter[str] = field(default_factory=Counter)
    queue_received: int = 0
    stage_windows: dict[str, list[float]] = field(default_factory=dict)

    def saw_stage(self, stage: str, at: float) -> None:
        """Widen `stage`'s [first, last] activity window to include `at`."""
        window = self.stage_windows.get(stage)
        if window is None:
            self.stage_windows[stage] = [at, at]
        else:
            window[0], window[1] = min(window[0], at), max(window[1], at)


class RequestCounters:
    """Thread-safe counters fed by the connector's hooks and the Storage clients' hooks.

    Args:
        table_prefix: The storage prefix, stripped from table names in the breakdown.
        clock: Monotonic seconds (write times are measured with it).
    """

    def __init__(self, table_prefix: str = "", clock: Callable[[], float] = time.monotonic):
        self.table_prefix = table_prefix
        self.clock = clock
        self._lock = threading.Lock()
        self.tally = Tally()

    def reset(self) -> Tally:
        """Start counting afresh; returns what was counted so far."""
        with self._lock:
            done, self.tally = self.tally, Tally()
        return done

    # -- the connector's observers (runtime.Hooks) ------------------------------------------

    def credly_request(self, label: str, status: int | None) -> None:
        """Count one Credly attempt."""
        now = self.clock()
        with self._lock:
            self.tally.credly += 1
            self.tally.saw_stage(current_stage(), now)

    def graph_request(self, method: str, kind: str, status: int | None) -> None:
        """Count one Graph attempt: a write, a throttled write, a read or anything else."""
        now = self.clock()
        stage = current_stage()
        with self._lock:
            tally = self.tally
            tally.saw_stage(stage, now)
            if kind in WRITE_KINDS:
                if status == 429:
                    tally.graph_429 += 1
                    tally.throttle_times.append(now)
                elif status is not None and 200 <= status < 300:
                    tally.graph_writes += 1
                    tally.write_times.append(now)
                else:
                    tally.graph_other += 1
            elif method == "GET":
                tally.graph_reads += 1
            else:
                tally.graph_other += 1

    # -- Storage clients' response hooks ---------------------------------------------------

    def table_response(self, response: Any) -> None:
        """`raw_response_hook` of the table clients: one count per HTTP request."""
        request = response.http_request
        table, kind = classify_table_request(request.method, request.url, self.table_prefix)
        stage = current_stage()
        now = self.clock()
        with self._lock:
            self.tally.table_ops[f"{table}.{kind}"] += 1
            self.tally.table_by_stage[stage] += 1
            self.tally.saw_stage(stage, now)

    def queue_response(self, response: Any) -> None:
        """`raw_response_hook` of the queue clients: requests by kind, messages received."""
        request = response.http_request
        kind = classify_queue_request(request.method, request.url)
        received = 0
        if kind == "receive":
            try:
                received = len(_MESSAGE.findall(response.http_response.body() or b""))
            except Exception:
                received = 0
        with self._lock:
            self.tally.queue_ops[kind] += 1
            self.tally.queue_received += received


class DiscardedConnections(logging.Filter):
    """Counts (and silences) urllib3's "Connection pool is full, discarding connection".

    Each one is an HTTP connection closed after one use because more threads talked to the
    same host than the client's pool keeps (10 by default), so the next request opens a new
    one: a cost of the pipeline worth counting, not a warning worth printing thousands of.
    """

    LOGGER = "urllib3.connectionpool"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """False (dropped) for the pool-full warning, which is counted."""
        if "Connection pool is full" in record.getMessage():
            self.count += 1
            return False
        return True

    def __enter__(self) -> DiscardedConnections:
        logging.getLogger(self.LOGGER).addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger(self.LOGGER).removeFilter(self)


def classify_table_request(method: str, url: str, prefix: str = "") -> tuple[str, str]:
    """(table role, operation) of a Table service request, e.g. ("badges", "read")."""
    path = unquote(urlsplit(url).path)
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if last == "$batch":
        return "any", "batch"
    name, _, keys = last.partition("(")
    if name == "Tables":
        return "tables", "admin"
    role = name[len(prefix) :] if prefix and name.startswith(prefix) else name
    if method == "GET":
        return role, "read" if "PartitionKey=" in keys and "RowKey=" in keys else "query"
    return role, _TABLE_WRITES.get(method, method.lower())


def classify_queue_request(method: str, url: str) -> str:
    """The kind of a Queue service request: send, receive, delete, update or admin."""
    path = urlsplit(url).path.rstrip("/")
    parts = path.split("/")
    if "messages" not in parts:
        return "admin"
    has_id = parts[-1] != "messages"
    if method == "POST":
        return "send"
    if method == "GET":
        return "receive"
    if method == "DELETE":
        return "delete" if has_id else "clear"
    if method == "PUT":
        return "update"
    return method.lower()
