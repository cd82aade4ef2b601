"""The shared rate's transitions with plain values: claims, the gate, AIMD, a simulated fleet."""

from __future__ import annotations

from dataclasses import replace

import pytest

from credly_connector.budget.policy import (
    PROBING,
    STEADY,
    Grant,
    RatePolicy,
    RateState,
    claim,
    claim_single,
    credit,
    initial,
    respace,
    throttle,
)
from tests.budget.simulate import simulate

POLICY = RatePolicy(start=10.0, block_s=1.0)


def test_a_new_budget_starts_conservatively_and_never_above_its_ceiling() -> None:
    assert initial(POLICY).rate == 10.0
    assert initial(RatePolicy(start=10.0, ceiling=4.0)).rate == 4.0
    assert initial(POLICY).phase == PROBING


def test_claims_queue_one_block_after_another() -> None:
    state = initial(POLICY)

    state, first = claim(state, POLICY, now=100.0)
    state, second = claim(state, POLICY, now=100.2)

    # then: a second of permits each, the second block after the first
    assert first == Grant(100.0, 10, 0.1)
    assert second.start == pytest.approx(101.0)
    assert second.times()[-1] == pytest.approx(101.9)
    assert state.next_free == pytest.approx(102.0)


def test_a_claim_takes_no_more_than_its_claimer_can_use() -> None:
    _, grant = claim(initial(POLICY), POLICY, now=0.0, want=3)
    assert grant.count == 3


def test_an_urgent_permit_goes_first_and_is_charged_at_the_back() -> None:
    state, _ = claim(initial(POLICY), POLICY, now=100.0)

    state, urgent = claim_single(state, now=100.0)

    assert urgent == Grant(100.0, 1, 0.1)
    assert state.next_free == pytest.approx(101.1)


def test_a_429_with_retry_after_closes_the_gate_for_every_later_claim() -> None:
    state = throttle(initial(POLICY), POLICY, now=50.0, retry_after=3.0)

    _, grant = claim(state, POLICY, now=51.0)
    _, urgent = claim_single(state, now=51.0)

    assert state.gate_until == 53.0
    assert grant.start == 53.0
    assert urgent.start == 53.0


def test_a_429_without_retry_after_backs_off_longer_each_time_until_one_is_accepted() -> None:
    state = initial(POLICY)
    gates = []
    for now in (10.0, 20.0, 30.0):
        state = throttle(state, POLICY, now, None)
        gates.append(state.gate_until - now)
    assert gates == [1.0, 2.0, 4.0]

    state = credit(state, POLICY, now=40.0, accepted=1)
    assert state.backoff_s == POLICY.backoff_s


def test_one_burst_of_429s_lowers_the_rate_once() -> None:
    state = RateState(rate=20.0, phase=STEADY, last_decrease=-100.0)

    state = throttle(state, POLICY, now=10.0, retry_after=1.0)
    state = throttle(state, POLICY, now=10.5, retry_after=1.0)

    assert state.rate == pytest.approx(20.0 * POLICY.decrease)
    later = throttle(state, POLICY, now=10.0 + POLICY.cooldown_s, retry_after=1.0)
    assert later.rate == pytest.approx(20.0 * POLICY.decrease**2)


def test_the_first_429_ends_slow_start_with_a_deeper_cut() -> None:
    state = throttle(RateState(rate=40.0), POLICY, now=10.0, retry_after=1.0)
    assert state.phase == STEADY
    assert state.rate == pytest.approx(40.0 * POLICY.probe_decrease)


def test_after_slow_start_the_rate_creeps_up_from_where_it_fell() -> None:
    # given: slow start overshot to 40/s while the service's burst allowance was spent
    fallen = throttle(RateState(rate=40.0), POLICY, now=10.0, retry_after=1.0)
    busy = replace(fallen, next_free=100.0)

    # when: the service accepts the next writes
    grown = credit(busy, POLICY, now=100.0, accepted=10)

    # then: it grows at the plateau's pace, not back towards the overshoot
    assert grown.rate == pytest.approx(fallen.rate + 10 * POLICY.plateau_gain)


def test_a_429_never_leaves_the_rate_above_what_the_service_accepted() -> None:
    # given: a ceiling ten times too high, and 25 accepted per second measured
    state = RateState(rate=250.0, measured=25.0, phase=STEADY, last_decrease=-100.0)

    state = throttle(state, POLICY, now=10.0, retry_after=1.0)

    assert state.rate == 25.0


def test_the_rate_grows_fast_while_probing_then_slowly() -> None:
    busy = RateState(rate=10.0, next_free=100.0, last_decrease=-100.0)
    probing = credit(busy, POLICY, now=100.0, accepted=10)
    steady = credit(replace(busy, phase=STEADY, refused_at=20.0), POLICY, 100.0, 10)
    plateau = credit(replace(busy, rate=19.5, phase=STEADY, refused_at=20.0), POLICY, 100.0, 10)

    assert probing.rate == pytest.approx(10.0 + 10 * POLICY.probe_gain)
    assert steady.rate == pytest.approx(10.0 + 10 * POLICY.steady_gain)
    assert plateau.rate == pytest.approx(19.5 + 10 * POLICY.plateau_gain)


def test_the_rate_does_not_grow_when_idle_cooling_or_at_its_ceiling() -> None:
    capped = RatePolicy(start=10.0, ceiling=10.0)
    idle = RateState(rate=10.0, next_free=50.0)
    cooling = RateState(rate=10.0, next_free=100.0, last_decrease=99.0)
    full = RateState(rate=10.0, next_free=100.0, last_decrease=-100.0)

    assert credit(idle, POLICY, now=100.0, accepted=10).rate == 10.0
    assert credit(cooling, POLICY, now=100.0, accepted=10).rate == 10.0
    assert credit(full, capped, now=100.0, accepted=10).rate == 10.0


def test_a_queued_grant_follows_the_gate_and_the_rate_within_its_own_window() -> None:
    grant = Grant(100.0, 10, 0.1)  # the window [100, 101)

    gated = respace(grant, RateState(rate=10.0, gate_until=100.5))
    slower = respace(grant, RateState(rate=5.0))
    faster = respace(grant, RateState(rate=20.0))

    assert (gated.start, gated.count) == (100.5, 5)
    assert (slower.count, slower.spacing) == (5, 0.2)
    assert faster.count == 20
    assert faster.times()[-1] < 101.0


@pytest.mark.parametrize("limit", [25.0, 50.0, 100.0])
@pytest.mark.parametrize("instances", [1, 4])
def test_a_fleet_finds_the_limit_and_settles_below_it(limit: float, instances: int) -> None:
    # given: no ceiling; the service refuses above `limit`, as the Graph stand-in does
    run = simulate(RatePolicy(), limit, instances, seconds=60.0)

    # then: within 30 s the fleet is at 0.9 x the limit, and over the rest it stays near it
    assert any(run.window(t, t + 5) >= 0.9 * limit for t in range(0, 26))
    assert run.window(30, 60) >= 0.9 * limit
    # and: few refusals; at most one claim per 10 writes at 25/s
    writes = len(run.accepted) + len(run.refused)
    assert len(run.refused) <= 0.05 * writes
    if limit == 25.0:
        assert run.claims <= writes / 10


@pytest.mark.parametrize("limit", [25.0, 100.0])
def test_once_the_limit_is_known_no_5_second_window_passes_1_1_times_it(limit: float) -> None:
    run = simulate(RatePolicy(), limit, 2, seconds=120.0)

    learned = run.refused[0] + 3.0  # slow start's overshoot spent the service's burst
    busiest = max(run.window(t / 10, t / 10 + 5) for t in range(int(learned * 10), (120 - 5) * 10))
    assert busiest <= 1.1 * limit


def test_a_ceiling_ten_times_too_high_is_left_within_30_seconds() -> None:
    run = simulate(RatePolicy(start=250.0, ceiling=250.0), 25.0, 3, seconds=60.0)

    late = [t for t in run.refused if t >= 30]
    assert len(late) <= 0.05 * sum(t >= 30 for t in run.accepted)
    assert run.window(30, 60) >= 0.9 * 25.0


@pytest.mark.parametrize(
    "options",
    [{"start": 0.0}, {"ceiling": -1.0}, {"decrease": 1.0}, {"block_s": 0.0}],
)
def test_nonsense_policies_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RatePolicy(**options)  # type: ignore[arg-type]
