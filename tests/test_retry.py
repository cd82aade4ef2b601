"""One retry policy, two forms: blocking `call` and awaiting `call_async` decide alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from credly_connector.errors import RequestError, RetryableError
from credly_connector.retry import RetryPolicy


@dataclass
class Scripted:
    """An operation failing with the scripted errors, then answering; a clock moved by waits."""

    errors: list[Exception]
    now: float = 0.0
    calls: int = 0
    waits: list[float] = field(default_factory=list)
    told: list[float] = field(default_factory=list)

    def attempt(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "answer"

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def told_of(self, _error: RetryableError, wait: float) -> None:
        self.told.append(wait)

    def policy(self, **options: Any) -> RetryPolicy:
        return RetryPolicy(jitter=0.0, sleep=self.sleep, clock=self.clock, **options)


def blocking(policy: RetryPolicy, script: Scripted) -> str:
    return policy.call(script.attempt, on_retry=script.told_of)


def awaiting(policy: RetryPolicy, script: Scripted) -> str:
    async def attempt() -> str:
        return script.attempt()

    async def sleep(seconds: float) -> None:
        script.sleep(seconds)

    return asyncio.run(policy.call_async(attempt, sleep=sleep, on_retry=script.told_of))


FORMS = pytest.mark.parametrize("run", [blocking, awaiting], ids=["call", "call_async"])


@FORMS
def test_failures_back_off_exponentially_then_the_answer_comes_back(
    run: Callable[[RetryPolicy, Scripted], str],
) -> None:
    script = Scripted([RetryableError("503", status=503) for _ in range(3)])

    assert run(script.policy(attempts=4, backoff_s=0.5), script) == "answer"

    assert script.calls == 4
    assert script.waits == [0.5, 1.0, 2.0]
    assert script.told == script.waits


@FORMS
def test_the_last_error_surfaces_once_attempts_are_spent(
    run: Callable[[RetryPolicy, Scripted], str],
) -> None:
    script = Scripted([RetryableError(f"503 #{n}", status=503) for n in range(5)])

    with pytest.raises(RetryableError, match="503 #2"):
        run(script.policy(attempts=3), script)

    assert script.calls == 3
    assert script.waits == [0.5, 1.0]


@FORMS
def test_retry_after_is_waited_as_told_unless_longer_than_accepted(
    run: Callable[[RetryPolicy, Scripted], str],
) -> None:
    script = Scripted([RetryableError("429", retry_after=7), RetryableError("429", retry_after=50)])

    with pytest.raises(RetryableError, match="429"):
        run(script.policy(attempts=5, retry_after_cap_s=30.0), script)

    assert script.waits == [7.0]
    assert script.calls == 2


@FORMS
def test_a_wait_ending_past_the_time_budget_is_not_started(
    run: Callable[[RetryPolicy, Scripted], str],
) -> None:
    script = Scripted([RetryableError("slow", retry_after=4.0) for _ in range(5)])

    with pytest.raises(RetryableError):
        run(script.policy(attempts=10, budget_s=10.0), script)

    assert script.waits == [4.0, 4.0]  # a third would end at 12 s


@FORMS
def test_errors_that_are_not_retryable_surface_at_once(
    run: Callable[[RetryPolicy, Scripted], str],
) -> None:
    script = Scripted([RequestError("400")])

    with pytest.raises(RequestError):
        run(script.policy(), script)

    assert script.calls == 1
    assert script.waits == []
