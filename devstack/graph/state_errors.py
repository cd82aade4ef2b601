"""Refusals the Graph stand-in's state raises: `StateError` and its not-found/conflict forms."""

from __future__ import annotations

from devstack.graph.rules.problems import Problem

NOT_FOUND = "NotFound"
CONFLICT = "Conflict"


class StateError(Exception):
    """A request the state refuses; carries the problem to answer with."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def not_found(message: str) -> StateError:
    """A 404 `NotFound` refusal.

    Args:
        message: What does not exist.

    Returns:
        The error to raise.
    """
    return StateError(Problem(404, NOT_FOUND, message))


def conflict(message: str) -> StateError:
    """A 409 `Conflict` refusal.

    Args:
        message: What already exists or is already under way.

    Returns:
        The error to raise.
    """
    return StateError(Problem(409, CONFLICT, message))
