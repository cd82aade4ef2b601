"""What setup reports: each step's state, cause and fix, as an HTTP answer or terminal lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credly_connector.ops.answers import Answer

CREATED, PRESENT, UPDATED, UNCHANGED = "created", "already present", "updated", "unchanged"
IN_PROGRESS, FAILED, SKIPPED = "in progress", "failed", "skipped"
DONE = frozenset({CREATED, PRESENT, UPDATED, UNCHANGED})


@dataclass(frozen=True)
class SetupStep:
    """One step's outcome, with the cause and the fix when it did not finish.

    Attributes:
        state: `created`, `already present`, `updated`, `unchanged` (done), `in progress`,
            `failed` or `skipped`.
    """

    name: str
    state: str
    detail: str
    cause: str = ""
    fix: str = ""

    def lines(self) -> list[str]:
        """The step as terminal lines: name, state and detail, then its cause and fix."""
        notes = (("cause", self.cause), ("fix", self.fix))
        shown = [f"{'':<15} {label}: {text}" for label, text in notes if text]
        return [f"{self.name:<15} {self.state:<16} {self.detail}", *shown]

    def to_json(self) -> dict[str, Any]:
        """`{name, state, ok, detail, cause, fix}`."""
        return {
            "name": self.name,
            "state": self.state,
            "ok": self.state in DONE,
            "detail": self.detail,
            "cause": self.cause,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class SchemaProgress:
    """A poll of the schema operation, reported while setup waits for it."""

    operation_id: str
    status: str
    elapsed_s: float
    polls: int


IDENTITY_NOTE = (
    "run setup as the app's own identity (POST /api/ops/setup): with the .OwnedBy permissions "
    "only the identity that created the connection may write its items, so after a setup "
    "from a workstation under another identity every item write fails with 403; fix: remove "
    "the connection (python -m credly_connector teardown) and run POST /api/ops/setup."
)
"""Said with every setup report: who must own the connection, and what a later 403 means."""


@dataclass(frozen=True)
class SetupReport:
    """The steps of one setup run, in order."""

    steps: tuple[SetupStep, ...]

    @property
    def ok(self) -> bool:
        """Every step finished."""
        return all(step.state in DONE for step in self.steps)

    @property
    def status(self) -> int:
        """200 when done, 202 while the schema is still registering, 502 on a failure."""
        if self.ok:
            return 200
        return 502 if any(s.state in {FAILED, SKIPPED} for s in self.steps) else 202

    def answer(self) -> Answer:
        """The HTTP answer."""
        steps = [s.to_json() for s in self.steps]
        return Answer(self.status, {"ok": self.ok, "steps": steps, "identity": IDENTITY_NOTE})

    def render(self) -> str:
        """The steps as lines for a terminal."""
        lines = [line for step in self.steps for line in step.lines()]
        return "\n".join([*lines, f"note: {IDENTITY_NOTE}"])
