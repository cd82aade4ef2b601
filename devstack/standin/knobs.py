"""Fault, latency and rate-limit knobs shared by the HTTP stand-ins, settable while they run."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs


class FaultKind(StrEnum):
    """What a scripted fault does to the request it hits."""

    STATUS = "status"  # answer `status` in the service's error envelope
    HANG = "hang"  # say nothing until the client gives up (bounded by `hang_s`), then close
    RESET = "reset"  # abort the TCP connection (RST) without an answer
    TRUNCATED_JSON = "truncated_json"  # 200 with the real body cut in half
    MALFORMED_JSON = "malformed_json"  # 200 with a body that is not JSON at all
    CALL = "call"  # run the fault's `action` (e.g. expire tokens), then serve normally


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
        """Whether the selectors match a request (its decoded path, raw query string)."""
        if self.route_class is not None and self.route_class != route_class:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path_contains is not None and self.path_contains not in path:
            return False
        given = parse_qs(query, keep_blank_values=True)
        wanted = (self.query or {}).items()
        return all(name in given and (not v or v in given[name]) for name, v in wanted)

    @property
    def exhausted(self) -> bool:
        """True when the fault can never fire again."""
        if self.nth is not None:
            return self.seen >= self.nth
        return self.times is not None and self.fired >= self.times

    def to_json(self) -> dict[str, Any]:
        """JSON form, as the control API answers it."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "action"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build a fault from the control API's JSON form."""
        unknown = set(data) - {f.name for f in fields(cls)} - {"action", "seen", "fired"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        query = data.get("query")
        if query is not None and (
            not isinstance(query, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in query.items())
        ):
            raise ValueError("query must be an object of strings")
        return cls(**{**data, "kind": FaultKind(data["kind"])})


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
                self._buckets.pop(route_class, None)
            else:
                self._buckets[route_class] = _Bucket(limit, float(limit.burst or 1), self.clock())

    def take_token(self, route_class: str) -> tuple[float, bool] | None:
        """Spend one token of the route class's bucket.

        Returns:
            None when the request may pass, else the seconds until a token is back and
            whether the 429 says so in `Retry-After`.
        """
        with self._lock:
            bucket = self._buckets.get(route_class)
            if bucket is None:
                return None
            now, limit = self.clock(), bucket.limit
            refill = (now - bucket.updated) * limit.per_second
            bucket.tokens = min(float(limit.burst or 1), bucket.tokens + refill)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / limit.per_second, limit.send_retry_after

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
            self._buckets.clear()

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
