"""A fleet sharing one `RateState` against a token bucket, in simulated time (plain values)."""

from __future__ import annotations

from dataclasses import dataclass, field

from credly_connector.budget.policy import (
    Grant,
    RatePolicy,
    RateState,
    claim,
    credit,
    initial,
    respace,
    throttle,
)

STEP_S = 0.01


@dataclass
class Bucket:
    """The service's limit as the Graph stand-in models it: `limit`/s, a burst of `limit`."""

    limit: float
    tokens: float = 0.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.limit

    def take(self, now: float) -> bool:
        self.tokens = min(self.limit, self.tokens + (now - self.updated) * self.limit)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Instance:
    """One instance: its claimed permit times, what it has to report, its gate."""

    slots: list[float] = field(default_factory=list)
    accepted: int = 0
    throttles: list[float] = field(default_factory=list)
    gate: float = 0.0
    queued: Grant | None = None


@dataclass
class Run:
    """What the service saw: send times accepted and refused, and the rate over time."""

    accepted: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    rates: list[tuple[float, float]] = field(default_factory=list)
    claims: int = 0

    def window(self, start: float, end: float) -> float:
        """Accepted writes per second in [start, end)."""
        return sum(start <= t < end for t in self.accepted) / (end - start)


def simulate(policy: RatePolicy, limit: float, instances: int, seconds: float) -> Run:
    """Every instance always has writes to send; a claim or a check is one storage operation.

    Mirrors `SharedRate`: a 429 stops the instance and drops its permits; its next claim
    reports the 429s and the accepted writes; a grant queued more than `lead_s` ahead is
    fitted to the row just before it starts.
    """
    bucket = Bucket(limit)
    state: RateState = initial(policy)
    fleet = [Instance() for _ in range(instances)]
    run = Run()
    now = 0.0
    while now < seconds:
        for member in fleet:
            if member.slots and member.slots[0] <= now:
                member.slots.pop(0)
                if now < member.gate:
                    continue
                if bucket.take(now):
                    run.accepted.append(now)
                    member.accepted += 1
                else:
                    run.refused.append(now)
                    member.throttles.append(now)
                    member.gate = now + 1.0
                    member.slots.clear()
                    member.queued = None
            if member.slots or now < member.gate:
                continue
            if member.queued is not None:
                if now >= member.queued.start - 0.1:
                    member.slots = respace(member.queued, state).times()
                    member.queued = None
                    member.gate = max(member.gate, state.gate_until)
                    run.claims += 1
                continue
            for when in member.throttles:
                state = throttle(state, policy, when, 1.0)
            state = credit(state, policy, now, member.accepted)
            member.throttles, member.accepted = [], 0
            state, grant = claim(state, policy, now)
            run.claims += 1
            member.gate = max(member.gate, state.gate_until)
            if grant.start > now + policy.lead_s:
                member.queued = grant
            else:
                member.slots = grant.times()
        run.rates.append((now, state.rate))
        now = round(now + STEP_S, 6)
    return run
