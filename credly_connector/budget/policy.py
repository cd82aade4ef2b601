"""The shared rate's state and its transitions (claim, single permit, 429) as pure functions."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

# Before the first 429 the rate grows fast (slow start); this ends it for good.
PROBING = "probing"
STEADY = "steady"


@dataclass(frozen=True)
class RatePolicy:
    """How a shared rate starts, grows, shrinks and is handed out.

    Growth is counted per accepted request, so the fleet's rate grows by the same fraction per
    second whatever the number of instances: `gain * accepted` with `accepted ~ rate * dt` is
    `dr/dt = gain * rate`.

    Attributes:
        start: The first rate (requests per second), lowered to `ceiling` when set.
        ceiling: The rate never grows above this (None: only 429s bound it).
        floor: The rate never drops below this.
        probe_gain: Growth per accepted request before the first 429 (about that fraction per
            second: 0.12 doubles in about 6 s).
        steady_gain: Growth per accepted request after it, below `plateau` times the rate
            the last 429 came at.
        plateau_gain: Growth above that: the rate stays just below where the service refused
            and probes past it slowly (the service's burst allowance hides an overshoot for
            a while, so a fast probe would overshoot far).
        plateau: See `steady_gain`.
        decrease: Factor applied on a 429 (once per `cooldown_s`: one burst brings several).
        probe_decrease: Factor applied on the first 429, which also cancels slow start's
            overshoot (the rate grew while the service's burst allowance was spent).
        cooldown_s: 429s within this time of a decrease do not lower the rate again; the rate
            does not grow during it either.
        backoff_s: The gate's length after a 429 without `Retry-After`; doubles on each such
            429 up to `backoff_cap_s`, reset by an accepted request.
        block_s: A claim takes about this many seconds' worth of permits.
        lead_s: A grant starting more than this after its claim (queued behind other
            instances' blocks) is checked against the row just before it starts, so a gate or
            a decrease reaches every queued block.
        contended_s: The rate grows only when the queue of claims reached within this much of
            now (the budget was in demand, so accepted requests say the service kept up).
        max_block: The most permits one claim takes (bounds a claimer's memory).
        tally_s: Accepted requests are counted over windows of this length; a 429 never
            leaves the rate above the last window's accepted rate, so a ceiling set far too
            high is left within a step or two instead of many.
        burst_s: The service's burst allowance assumed, in seconds of its limit, when slow
            start's 429 estimates the limit from what was accepted (a smaller real burst
            only makes the estimate lower).
        probe_floor: The least fraction of slow start's last rate its 429 leaves.
    """

    start: float = 10.0
    ceiling: float | None = None
    floor: float = 1.0
    probe_gain: float = 0.12
    steady_gain: float = 0.02
    plateau_gain: float = 0.003
    plateau: float = 0.95
    decrease: float = 0.9
    probe_decrease: float = 0.65
    cooldown_s: float = 2.0
    backoff_s: float = 1.0
    backoff_cap_s: float = 30.0
    block_s: float = 1.5
    lead_s: float = 1.0
    contended_s: float = 0.5
    max_block: int = 200
    tally_s: float = 3.0
    burst_s: float = 0.5
    probe_floor: float = 0.57

    def __post_init__(self) -> None:
        """Refuse a rate or block that is not positive, or a decrease outside 0..1."""
        if self.start <= 0 or self.floor <= 0:
            raise ValueError("start and floor must be positive")
        if self.ceiling is not None and self.ceiling <= 0:
            raise ValueError("ceiling must be positive")
        if not (0 < self.decrease < 1 and 0 < self.probe_decrease < 1):
            raise ValueError("decrease factors must be between 0 and 1")
        if self.block_s <= 0 or self.lead_s < 0:
            raise ValueError("block_s must be positive and lead_s not negative")

    def bounded(self, rate: float) -> float:
        """`rate` within floor and ceiling."""
        top = self.ceiling if self.ceiling is not None else math.inf
        return max(self.floor, min(top, rate))


@dataclass(frozen=True)
class RateState:
    """One budget's shared state; times are seconds on the clock every instance shares.

    Attributes:
        rate: The current rate in requests per second.
        next_free: When the next unclaimed permit starts.
        gate_until: No permit starts before this (closed by a 429).
        last_decrease: When the rate was last lowered.
        backoff_s: The next gate's length after a 429 without `Retry-After`.
        phase: `probing` until the first 429, then `steady`.
        tally_since: When the current count of accepted requests began.
        tally: Accepted requests reported since `tally_since`.
        measured: Accepted requests per second over the last whole window (0: not known).
        refused_at: The rate when the last 429 came (0: none yet).
    """

    rate: float
    next_free: float = 0.0
    gate_until: float = 0.0
    last_decrease: float = 0.0
    backoff_s: float = 1.0
    phase: str = PROBING
    tally_since: float = 0.0
    tally: int = 0
    measured: float = 0.0
    refused_at: float = 0.0


@dataclass(frozen=True)
class Grant:
    """Permits handed to one claimer: `count` sends, `spacing` apart, from `start`."""

    start: float
    count: int
    spacing: float

    def times(self) -> list[float]:
        """The send time of each permit."""
        return [self.start + i * self.spacing for i in range(self.count)]


@dataclass(frozen=True)
class StoredRate:
    """A budget's state as last read or written, with the ETag that conditions the next write."""

    key: str
    state: RateState
    etag: str


def initial(policy: RatePolicy) -> RateState:
    """The state of a budget nobody used yet."""
    return RateState(rate=policy.bounded(policy.start), backoff_s=policy.backoff_s)


def credit(state: RateState, policy: RatePolicy, now: float, accepted: int) -> RateState:
    """Count `accepted` requests the service took since the claimer's last report.

    They raise the rate only while the budget was in demand, outside a cooldown and an open
    gate: an idle fleet learns nothing about the limit, so its rate must not creep up.
    """
    state = _tallied(state, policy, now, accepted)
    if accepted <= 0:
        return state
    state = replace(state, backoff_s=policy.backoff_s)
    in_demand = state.next_free >= now - policy.contended_s
    cooling = now - state.last_decrease < policy.cooldown_s or now < state.gate_until
    if not in_demand or cooling:
        return state
    if state.phase == PROBING:
        gain = policy.probe_gain
    elif state.rate < policy.plateau * state.refused_at:
        gain = policy.steady_gain
    else:
        gain = policy.plateau_gain
    return replace(state, rate=policy.bounded(state.rate + gain * accepted))


def _tallied(state: RateState, policy: RatePolicy, now: float, accepted: int) -> RateState:
    """Count accepted requests; a whole window becomes the measured rate."""
    if now - state.tally_since > 3 * policy.tally_s:
        # Nobody reported for long: an old count says nothing about the rate now.
        return replace(state, tally_since=now, tally=accepted, measured=0.0)
    state = replace(state, tally=state.tally + accepted)
    elapsed = now - state.tally_since
    if elapsed < policy.tally_s:
        return state
    return replace(state, tally_since=now, tally=0, measured=state.tally / elapsed)


def claim(
    state: RateState, policy: RatePolicy, now: float, want: int | None = None
) -> tuple[RateState, Grant]:
    """Claim the next block of permits, queued after every block claimed before.

    Args:
        state: The shared row's state as read.
        policy: The block length and the ceiling.
        now: The shared clock's time.
        want: Permits the claimer can use (default and at most: `block_s` of the rate).
    """
    # A ceiling lowered since the rate was stored takes effect at once.
    state = replace(state, rate=policy.bounded(state.rate))
    start = max(now, state.next_free, state.gate_until)
    spacing = 1.0 / state.rate
    full = min(policy.max_block, math.ceil(state.rate * policy.block_s))
    count = max(1, min(full, want if want is not None else full))
    return replace(state, next_free=start + count * spacing), Grant(start, count, spacing)


def respace(grant: Grant, state: RateState) -> Grant:
    """A queued grant fitted to the budget as it is now: after its gate, at its current rate.

    The grant keeps its window, which no other claimer's overlaps, so sending at the current
    rate inside it keeps the fleet at that rate, whether it rose or fell since the claim.
    """
    spacing = 1.0 / state.rate
    end = grant.start + grant.count * grant.spacing
    start = max(grant.start, state.gate_until)
    count = max(0, math.ceil((end - start) / spacing - 1e-9))
    return Grant(start, count, spacing)


def claim_single(state: RateState, now: float) -> tuple[RateState, Grant]:
    """One permit at the front of the queue, charged at its back (urgent writes).

    It starts as soon as the gate allows, ahead of every claimed block; the queue moves back
    by one permit, so over any second the budget still hands out its rate (plus at most the
    urgent permits of that second).
    """
    spacing = 1.0 / state.rate
    start = max(now, state.gate_until)
    next_free = max(state.next_free, now) + spacing
    return replace(state, next_free=next_free), Grant(start, 1, spacing)


def throttle(
    state: RateState, policy: RatePolicy, now: float, retry_after: float | None
) -> RateState:
    """A 429: close the gate for everyone and lower the rate (once per burst)."""
    if retry_after is not None and retry_after > 0:
        gate, backoff = now + retry_after, state.backoff_s
    else:
        gate, backoff = now + state.backoff_s, min(policy.backoff_cap_s, state.backoff_s * 2)
    state = replace(state, gate_until=max(state.gate_until, gate), backoff_s=backoff)
    if now - state.last_decrease < policy.cooldown_s:
        return state
    probing = state.phase == PROBING
    lowered = state.rate * (policy.probe_decrease if probing else policy.decrease)
    if 0 < state.measured < lowered:
        # The service accepted only this much lately: sending more only brings more 429s.
        lowered = state.measured
    if probing:
        # Not below `probe_floor` of the 429's rate: accepted writes other instances have
        # not reported yet are missing from the estimate.
        estimate = _accepted_rate(state, policy, now) or lowered
        lowered = max(min(lowered, estimate), state.rate * policy.probe_floor)
    rate = policy.bounded(lowered)
    # Slow start's rate at its 429 says little about the limit (it grew while the service's
    # burst allowance was spent): the rate it falls to is taken as the plateau instead, so
    # the fleet creeps up from there rather than racing back to the overshoot.
    refused_at = rate / policy.plateau if probing else state.rate
    return replace(state, rate=rate, last_decrease=now, phase=STEADY, refused_at=refused_at)


def _accepted_rate(state: RateState, policy: RatePolicy, now: float) -> float:
    """What the service accepted lately, per second, its burst allowance taken out (0: unknown).

    Over the last whole tally window and the current one, the service accepted at most its
    limit times their length plus its burst; counting the burst as `burst_s` of the limit,
    accepted / (length + burst_s) is a limit the service has just shown it keeps up with.
    """
    if state.measured <= 0:
        return 0.0
    span = max(0.0, now - state.tally_since)
    accepted = state.measured * policy.tally_s + state.tally
    return accepted / (policy.tally_s + span + policy.burst_s)
