"""The steps of a teardown or a rebuild, reported as setup reports its own: state, cause, fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from credly_connector.errors import ConnectorError
from credly_connector.ops.answers import Answer
from credly_connector.ops.checks import describe_error
from credly_connector.ops.setup_report import DONE as SETUP_DONE
from credly_connector.ops.setup_report import FAILED, SetupStep

REMOVED, ABSENT, WOULD_REMOVE = "removed", "already absent", "would remove"
EARLIER = "done earlier"
DONE = SETUP_DONE | {REMOVED, ABSENT, WOULD_REMOVE, EARLIER}


@dataclass(frozen=True)
class StepsReport:
    """The steps of a teardown (or rebuild) run, in order, with what to do next."""

    steps: tuple[SetupStep, ...]
    facts: dict[str, Any] = field(default_factory=dict)
    next: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every step finished (or, unconfirmed, was only listed)."""
        return all(step.state in DONE for step in self.steps)

    @property
    def status(self) -> int:
        """200 when done, 202 while a step is still under way, 502 on a failure."""
        if self.ok:
            return 200
        return 502 if any(step.state == FAILED for step in self.steps) else 202

    def answer(self) -> Answer:
        """The HTTP answer."""
        steps = [{**step.to_json(), "ok": step.state in DONE} for step in self.steps]
        body = {"ok": self.ok, **self.facts, "steps": steps, "next": list(self.next)}
        return Answer(self.status, body)

    def render(self) -> str:
        """The steps as lines for a terminal, then what to do next."""
        lines = [line for step in self.steps for line in step.lines()]
        return "\n".join([*lines, *(f"next: {line}" for line in self.next)])


def graph_failed(name: str, error: ConnectorError, rerun: str) -> SetupStep:
    """A step Graph refused or failed, with the error's cause and fix (`rerun`: how to retry)."""
    cause, fix = describe_error(error, f"fix the cause, then {rerun}")
    return SetupStep(name, FAILED, "Graph refused or failed the request", cause, fix)
