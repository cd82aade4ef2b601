"""WritePacer: the 429 gate on a fake clock; threads with their own event loops sharing one."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from credly_connector.budget.rate import STALE_S
from credly_connector.graph.pacing import WritePacer, urgent_writes
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
    assert granted == pytest.approx([1002.0, 1002.0])
    assert sum(fake_time.slept) == pytest.approx(2.0)
    assert writes.throttles == 1


def test_writes_at_a_fixed_rate_are_spaced(fake_time: FakeTime) -> None:
    granted = asyncio.run(enter(pacer(fake_time, rate=4.0), fake_time, 4))
    assert granted == pytest.approx([1000.0, 1000.25, 1000.5, 1000.75])


def test_urgent_writes_go_ahead_of_the_claimed_permits(fake_time: FakeTime) -> None:
    writes = pacer(fake_time, rate=2.0)

    async def scenario() -> list[float]:
        # given: a block of permits claimed and partly used
        await enter(writes, fake_time, 1)
        # when: an urgent write comes
        with urgent_writes():
            return await enter(writes, fake_time, 1)

    # then: it is granted at once, not after the block
    assert asyncio.run(scenario()) == [1000.0]


def test_urgent_writes_reach_the_event_loop_a_batch_starts(fake_time: FakeTime) -> None:
    writes = pacer(fake_time, rate=2.0)
    # given: a crawl batch used the first permit of its block (the next is at +0.5 s)
    asyncio.run(enter(writes, fake_time, 1))

    # when: a webhook's recompose runs its own event loop inside urgent_writes
    with urgent_writes():
        granted = asyncio.run(enter(writes, fake_time, 1))

    # then: its write did not wait for the block's next permit
    assert granted == [1000.0]


def test_an_urgent_write_does_not_queue_behind_writes_waiting_for_their_permits() -> None:
    # given: one write in flight at most, at one write a second, the first permit used
    writes = WritePacer(concurrency=1, rate=1.0)

    async def scenario() -> list[str]:
        granted: list[str] = []

        async def write(name: str) -> None:
            async with writes.slot():
                granted.append(name)

        await write("first")
        # a crawl's next write holds the only in-flight slot while it waits for its permit
        queued = asyncio.ensure_future(write("queued"))
        await asyncio.sleep(0.05)
        assert writes.in_flight == 1
        # when: a webhook's write comes
        with urgent_writes():
            await write("urgent")
        await queued
        return granted

    # then: it went before the queued write, not after it freed the slot
    assert asyncio.run(asyncio.wait_for(scenario(), timeout=30)) == ["first", "urgent", "queued"]


def test_threads_with_their_own_loops_share_one_in_flight_bound() -> None:
    # given: one pacer (3 in flight) and six threads, each running its own event loop
    writes = WritePacer(concurrency=3)
    lock = threading.Lock()
    holding = 0
    most = 0
    errors: list[BaseException] = []

    async def batch() -> None:
        async def write() -> None:
            nonlocal holding, most
            async with writes.slot():
                with lock:
                    holding += 1
                    most = max(most, holding)
                await asyncio.sleep(0.005)
                with lock:
                    holding -= 1

        await asyncio.gather(*(write() for _ in range(10)))

    def run() -> None:
        try:
            asyncio.run(batch())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then: never more than 3 writes at once in the whole process, and no loop errors
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert most == 3
    assert writes.in_flight == 0


def test_threads_with_their_own_loops_share_one_rate() -> None:
    # given: one pacer at 40 writes/s; when: four threads send 10 writes each
    writes = WritePacer(concurrency=8, rate=40.0)
    sent: list[float] = []
    lock = threading.Lock()

    async def batch() -> None:
        async def write() -> None:
            async with writes.slot():
                with lock:
                    sent.append(time.monotonic())

        await asyncio.gather(*(write() for _ in range(10)))

    threads = [threading.Thread(target=asyncio.run, args=(batch(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then: the 40 writes were spaced at the shared rate, not 40/s per thread (that would
    # send them all within a quarter of a second); a late writer may use a permit up to
    # `STALE_S` old, hence the margin
    assert len(sent) == 40
    sent.sort()
    busiest = max(sum(start <= t < start + 0.5 for t in sent) for start in sent)
    assert busiest <= (0.5 + STALE_S) * 40 + 1
    assert sent[-1] - sent[0] >= 39 / 40 - STALE_S


def test_a_cancelled_writer_gives_its_place_back() -> None:
    writes = WritePacer(concurrency=1)

    async def scenario() -> int:
        async with writes.slot():
            waiting = asyncio.ensure_future(enter_once(writes))
            await asyncio.sleep(0.01)
            waiting.cancel()
        await enter_once(writes)  # would hang if the cancelled waiter kept the permit
        return writes.in_flight

    assert asyncio.run(asyncio.wait_for(scenario(), timeout=10)) == 0


async def enter_once(writes: WritePacer) -> None:
    async with writes.slot():
        await asyncio.sleep(0)


@pytest.mark.parametrize("options", [{"concurrency": 0}, {"rate": 0.0}])
def test_nonsense_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        WritePacer(**options)  # type: ignore[arg-type]
