"""Fault, latency and rate-limit knobs shared by the HTTP stand-ins, settable while they run."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs


class FaultKind(StrEnum):
    """What a scripted fault does to the request it hits."""

    STATUS = "status"
    """Answer with `status` (5xx by default) and the service's error envelope."""
    HANG = "hang"
    """Say nothing until the client gives up (bounded by `hang_s`), then close."""
    RESET = "reset"
    """Abort the TCP connection (RST) without an answer."""
    TRUNCATED_JSON = "truncated_json"
    """Answer 200 with the real body cut in half (valid HTTP, invalid JSON)."""
    MALFORMED_JSON = "malformed_json"
    """Answer 200 with a body that is not JSON at all."""
    CALL = "call"
    """Run the fault's `action` (e.g. expire tokens), then serve the request normally."""


@dataclass
class Fault:
    """A scripted fault: which requests it hits and what it does to them.

    A fault matches a request when every given selector matches. With `nth`, it fires on the
    nth matching request only (1-based); otherwise it fires on the next `times` matching
    requests (`times=None`: on every one, until removed).

    `query` selects by query parameters: every named parameter must be present with exactly
    that (decoded) value, e.g. `{"page": "2"}` picks page 2 of a list and not page 20; an
    empty value (`{"$deltatoken": ""}`) only asks for the parameter to be present.
    `action` is what a `CALL` fault runs; it is not part of the JSON form.
    """

    kind: FaultKind
    route_class: str | None = None
    method: str | None = None
    path_contains: str | None = None
    query: dict[str, str] | None = None
    nth: int | None = None
    times: int | None = 1
    status: int = 500
    retry_after: float | None = None
    hang_s: float = 30.0
    action: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        """Refuse a call fault without an action."""
        if self.kind is FaultKind.CALL and self.action is None:
            raise ValueError("a call fault needs an action")

    def matches(self, method: str, path: str, route_class: str, query: str = "") -> bool:
        """Whether this fault's selectors match the request (ignores nth/times).

        Args:
            method: The request's method.
            path: The decoded path.
            route_class: The matched route's class ("unrouted" when none).
            query: The raw (URL-encoded) query string.
        """
        if self.route_class is not None and self.route_class != route_class:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path_contains is not None and self.path_contains not in path:
            return False
        return self.query is None or _query_matches(self.query, query)

    @property
    def exhausted(self) -> bool:
        """True when the fault can never fire again."""
        if self.nth is not None:
            return self.seen >= self.nth
        return self.times is not None and self.fired >= self.times

    def to_json(self) -> dict[str, Any]:
        """JSON form, as shown by the control endpoint."""
        return {
            "kind": self.kind.value,
            "route_class": self.route_class,
            "method": self.method,
            "path_contains": self.path_contains,
            "query": dict(self.query) if self.query is not None else None,
            "nth": self.nth,
            "times": self.times,
            "status": self.status,
            "retry_after": self.retry_after,
            "hang_s": self.hang_s,
            "seen": self.seen,
            "fired": self.fired,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build a fault from the control endpoint's JSON form."""
        allowed = {
            "route_class",
            "method",
            "path_contains",
            "query",
            "nth",
            "times",
            "status",
            "retry_after",
            "hang_s",
        }
        unknown = set(data) - allowed - {"kind"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        query = data.get("query")
        if query is not None and (
            not isinstance(query, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in query.items())
        ):
            raise ValueError("query must be an object of strings")
        return cls(kind=FaultKind(data["kind"]), **{k: v for k, v in data.items() if k != "kind"})


@dataclass
class RateLimit:
    """A token bucket for one route class: `per_second` sustained, `burst` at once.

    Over the limit the stand-in answers 429, with `Retry-After` (whole seconds, rounded up,
    as the real services send it) unless `send_retry_after` is false.
    """

    per_second: float
    burst: int | None = None
    send_retry_after: bool = True

    def __post_init__(self) -> None:
        """Refuse a non-positive rate; the burst defaults to one second's worth."""
        if self.per_second <= 0:
            raise ValueError("per_second must be positive")
        if self.burst is None:
            self.burst = max(1, math.ceil(self.per_second))


@dataclass
class _Bucket:
    limit: RateLimit
    tokens: float
    updated: float


@dataclass(frozen=True)
class Throttle:
    """The decision to throttle one request."""

    retry_after_s: float
    send_retry_after: bool


@dataclass
class Knobs:
    """Everything a test or the benchmark can turn on a running stand-in.

    All methods are thread-safe: the server's handler threads read the knobs while a test
    changes them.
    """

    latency_s: float = 0.0
    latency_by_class: dict[str, float] = field(default_factory=dict)
    # Named behaviours of one stand-in (e.g. how Credly treats a filter key), by name.
    modes: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    _faults: list[Fault] = field(default_factory=list)
    _limits: dict[str, RateLimit] = field(default_factory=dict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_latency(self, seconds: float, route_class: str | None = None) -> None:
        """Delay every answer (or those of one route class) by `seconds`."""
        with self._lock:
            if route_class is None:
                self.latency_s = seconds
            else:
                self.latency_by_class[route_class] = seconds

    def latency_for(self, route_class: str) -> float:
        """The delay to apply to a request of this route class."""
        with self._lock:
            return self.latency_by_class.get(route_class, self.latency_s)

    def set_mode(self, name: str, value: str | None) -> None:
        """Switch a named behaviour of the stand-in (None: back to its default)."""
        with self._lock:
            if value is None:
                self.modes.pop(name, None)
            else:
                self.modes[name] = value

    def mode(self, name: str, default: str) -> str:
        """The named behaviour in force, `default` when not switched."""
        with self._lock:
            return self.modes.get(name, default)

    def set_rate_limit(self, route_class: str, limit: RateLimit | None) -> None:
        """Limit a route class (None removes the limit); the bucket starts full."""
        with self._lock:
            if limit is None:
                self._limits.pop(route_class, None)
                self._buckets.pop(route_class, None)
                return
            self._limits[route_class] = limit
            assert limit.burst is not None
            self._buckets[route_class] = _Bucket(limit, float(limit.burst), self.clock())

    def rate_limits(self) -> dict[str, RateLimit]:
        """The rate limits in force, by route class."""
        with self._lock:
            return dict(self._limits)

    def take_token(self, route_class: str) -> Throttle | None:
        """Spend one token of the route class's bucket; a Throttle when none is left."""
        with self._lock:
            bucket = self._buckets.get(route_class)
            if bucket is None:
                return None
            now = self.clock()
            limit = bucket.limit
            assert limit.burst is not None
            bucket.tokens = min(
                float(limit.burst), bucket.tokens + (now - bucket.updated) * limit.per_second
            )
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            wait = (1.0 - bucket.tokens) / limit.per_second
            return Throttle(retry_after_s=wait, send_retry_after=limit.send_retry_after)

    def add_fault(self, fault: Fault) -> Fault:
        """Script a fault; returns it so a test can read `fired` later."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def faults(self) -> list[Fault]:
        """The scripted faults, fired or not."""
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        """Remove every scripted fault."""
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Back to a fault-free, unlimited, instant stand-in."""
        with self._lock:
            self.latency_s = 0.0
            self.latency_by_class.clear()
            self.modes.clear()
            self._faults.clear()
            self._limits.clear()
            self._buckets.clear()

    def to_json(self) -> dict[str, Any]:
        """The knobs as JSON (latency, modes, rate limits, faults), as the control API shows."""
        with self._lock:
            return {
                "latency_s": self.latency_s,
                "latency_by_class": dict(self.latency_by_class),
                "modes": dict(self.modes),
                "rate_limits": {k: asdict(v) for k, v in self._limits.items()},
                "faults": [f.to_json() for f in self._faults],
            }

    def apply_json(self, payload: dict[str, Any]) -> None:
        """Set latency, modes and rate limits from JSON (start-up options, the control API's PUT).

        A mode set to null goes back to the stand-in's default.

        Raises:
            ValueError: On an unknown knob or a bad value; nothing is changed then.
        """
        unknown = set(payload) - {"latency_s", "latency_by_class", "modes", "rate_limits"}
        if unknown:
            raise ValueError(f"unknown knobs: {sorted(unknown)}")
        modes = payload.get("modes", {})
        if not isinstance(modes, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in modes.items()
        ):
            raise ValueError("modes must be an object of strings (or null)")
        latency = float(payload.get("latency_s", self.latency_s))
        by_class = {k: float(v) for k, v in payload.get("latency_by_class", {}).items()}
        limits = {
            route_class: RateLimit(**limit) if limit else None
            for route_class, limit in payload.get("rate_limits", {}).items()
        }
        self.set_latency(latency)
        for name, value in modes.items():
            self.set_mode(name, value)
        for route_class, seconds in by_class.items():
            self.set_latency(seconds, route_class)
        for route_class, rate_limit in limits.items():
            self.set_rate_limit(route_class, rate_limit)

    def fault_for(self, method: str, path: str, route_class: str, query: str = "") -> Fault | None:
        """The first scripted fault that fires on this request, counting it as seen/fired."""
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not fault.matches(method, path, route_class, query):
                    continue
                fault.seen += 1
                if fault.nth is not None and fault.seen != fault.nth:
                    continue
                fault.fired += 1
                return fault
            return None


def _query_matches(wanted: dict[str, str], query: str) -> bool:
    """Whether every wanted parameter is in the raw query with that value ("" = present)."""
    given = parse_qs(query, keep_blank_values=True)
    for name, value in wanted.items():
        values = given.get(name)
        if values is None or (value and value not in values):
            return False
    return True
