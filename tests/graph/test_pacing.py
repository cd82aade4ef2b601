"""WritePacer with plain values: the 429 gate, the concurrency bound, the adaptive rate."""

from __future__ import annotations

import asyncio

import pytest

from credly_connector.graph.pacing import WritePacer
from tests.graph.conftest import FakeTime


def pacer(time: FakeTime, **options: float | int | None) -> WritePacer:
    return WritePacer(clock=time.clock, sleep=time.sleep, **options)  # type: ignore[arg-type]


async def enter(writes: WritePacer, time: FakeTime, count: int) -> list[float]:
    """Take `count` slots one after another; the clock time each was granted."""
    granted = []
    for _ in range(count):
        async with writes.slot():
            granted.append(time.now)
    return granted


def test_unpaced_writes_do_not_wait(fake_time: FakeTime) -> None:
    # given: a pacer without a target rate; when: three writes go
    granted = asyncio.run(enter(pacer(fake_time), fake_time, 3))

    # then: nobody slept
    assert granted == [1000.0, 1000.0, 1000.0]
    assert fake_time.slept == []


def test_a_429_gates_every_writer_until_retry_after(fake_time: FakeTime) -> None:
    writes = pacer(fake_time)

    # given: one write was throttled with Retry-After 2
    writes.throttled(2.0)

    # when: the next writes ask for a slot
    granted = asyncio.run(enter(writes, fake_time, 2))

    # then: the first waited until the gate opened, the second went straight after
    assert writes.gate_until == 1002.0
    assert granted == [1002.0, 1002.0]
    assert fake_time.slept == [2.0]
    assert writes.throttles == 1


class ThrottlingTime(FakeTime):
    """Fake time where another writer's 429 arrives during the first sleep."""

    def __init__(self, retry_after: float) -> None:
        super().__init__()
        self.retry_after = retry_after
        self.writes: WritePacer | None = None

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        if self.writes is not None and len(self.slept) == 1:
            self.writes.throttled(self.retry_after)


def test_a_429_while_waiting_at_the_gate_keeps_the_writer_waiting() -> None:
    time = ThrottlingTime(retry_after=4.0)
    writes = pacer(time)
    time.writes = writes
    # given: a gate until +5 s; an earlier-ending 429 does not shorten it
    writes.throttled(5.0)
    writes.throttled(1.0)
    assert writes.gate_until == 1005.0

    # when: a writer waits at the gate and another 429 (Retry-After 4) arrives meanwhile
    granted = asyncio.run(enter(writes, time, 1))

    # then: the writer waits for the new gate too
    assert time.slept == [5.0, 4.0]
    assert granted == [1009.0]


def test_a_429_without_retry_after_does_not_gate(fake_time: FakeTime) -> None:
    writes = pacer(fake_time)
    writes.throttled(None)
    assert writes.gate_until == float("-inf")
    assert asyncio.run(enter(writes, fake_time, 1)) == [1000.0]


def test_concurrency_is_bounded(fake_time: FakeTime) -> None:
    writes = pacer(fake_time, concurrency=3)
    active: list[int] = []
    peak = 0

    async def write() -> None:
        nonlocal peak
        async with writes.slot():
            active.append(1)
            peak = max(peak, len(active), writes.in_flight)
            for _ in range(3):
                await asyncio.sleep(0)
            active.pop()

    async def scenario() -> None:
        await asyncio.gather(*(write() for _ in range(10)))

    # when: ten writes start together
    asyncio.run(scenario())

    # then: never more than three held a slot, and all of them finished
    assert peak == 3
    assert writes.in_flight == 0


def test_target_rate_spaces_writes(fake_time: FakeTime) -> None:
    # given: a target of 4 writes per second; when: four writes go back to back
    granted = asyncio.run(enter(pacer(fake_time, rate=4.0), fake_time, 4))

    # then: they are a quarter second apart
    assert [round(t - 1000.0, 6) for t in granted] == [0.0, 0.25, 0.5, 0.75]


def test_concurrent_writers_reserve_successive_turns() -> None:
    # given: a clock that stands still, so each sleep shows the turn its writer reserved
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    writes = WritePacer(rate=2.0, concurrency=4, clock=lambda: 1000.0, sleep=record)

    async def write() -> None:
        async with writes.slot():
            pass

    async def scenario() -> None:
        await asyncio.gather(*(write() for _ in range(3)))

    # when: three writers ask at the same moment
    asyncio.run(scenario())

    # then: the first goes at once, the others wait for turns half a second apart
    assert slept == [0.5, 1.0]


def test_a_429_lowers_the_rate_once_per_cooldown(fake_time: FakeTime) -> None:
    writes = pacer(fake_time, rate=10.0, decrease_cooldown_s=1.0, min_rate=3.0)

    writes.throttled(None)
    assert writes.rate == pytest.approx(7.0)
    # a second 429 of the same burst does not lower it again
    writes.throttled(None)
    assert writes.rate == pytest.approx(7.0)
    # after the cooldown, it does; never below the minimum
    fake_time.now += 1.0
    writes.throttled(None)
    assert writes.rate == pytest.approx(4.9)
    fake_time.now += 1.0
    writes.throttled(None)
    assert writes.rate == pytest.approx(3.43)
    fake_time.now += 1.0
    writes.throttled(None)
    assert writes.rate == 3.0


def test_successes_raise_the_rate_additively_up_to_the_maximum(fake_time: FakeTime) -> None:
    writes = pacer(fake_time, rate=10.0, increase_after=3, increase_step=1.5)
    writes.throttled(None)
    assert writes.rate == pytest.approx(7.0)

    for _ in range(2):
        writes.succeeded()
    assert writes.rate == pytest.approx(7.0)
    writes.succeeded()
    assert writes.rate == pytest.approx(8.5)

    # a 429 resets the run of successes
    writes.succeeded()
    writes.succeeded()
    fake_time.now += 5.0
    writes.throttled(None)
    assert writes.rate == pytest.approx(5.95)
    writes.succeeded()
    assert writes.rate == pytest.approx(5.95)

    for _ in range(30):
        writes.succeeded()
    # capped at the starting rate, the default maximum
    assert writes.rate == 10.0


def test_an_unpaced_pacer_keeps_no_rate(fake_time: FakeTime) -> None:
    writes = pacer(fake_time, increase_after=1)
    writes.throttled(1.0)
    writes.succeeded()
    assert writes.rate is None


def test_one_pacer_serves_successive_event_loops(fake_time: FakeTime) -> None:
    writes = pacer(fake_time, concurrency=1, rate=1.0)

    async def contended() -> int:
        async def write() -> None:
            async with writes.slot():
                await asyncio.sleep(0)

        await asyncio.gather(write(), write())
        return writes.in_flight

    # when: two batches run in two event loops, each contending for the one slot
    assert asyncio.run(contended()) == 0
    writes.throttled(3.0)
    assert asyncio.run(contended()) == 0

    # then: the gate and the lowered rate carried over into the second loop
    assert writes.rate == pytest.approx(0.7)
    assert fake_time.now >= writes.gate_until


@pytest.mark.parametrize(
    "options",
    [{"concurrency": 0}, {"rate": 0.0}, {"rate": 1.0, "decrease": 1.0}],
)
def test_nonsense_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        WritePacer(**options)  # type: ignore[arg-type]
