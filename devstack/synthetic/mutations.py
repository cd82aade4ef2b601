"""Seeded changes to a built world (both stores and its ground truth) for incremental tests.

`Mutator` is the one entry point: it seeds the stream, hands each change to the module that
owns it (`badge_mutations`, `directory_mutations`) through one shared `MutationContext`
(`mutation_context`), and draws weighted random batches. The value types live in `mutation`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from devstack.synthetic.badge_mutations import BadgeMutations
from devstack.synthetic.directory_mutations import DirectoryMutations
from devstack.synthetic.draws import stream
from devstack.synthetic.mutation import Mutation, MutationKind, NoEligibleTargetError
from devstack.synthetic.mutation_context import SAMPLING_TRIES, MutationContext
from devstack.synthetic.world import World

__all__ = [
    "RANDOM_WEIGHTS",
    "SAMPLING_TRIES",
    "Mutation",
    "MutationKind",
    "Mutator",
    "NoEligibleTargetError",
]

RANDOM_WEIGHTS: dict[MutationKind, int] = {
    MutationKind.ACCEPT: 20,
    MutationKind.REVOKE: 8,
    MutationKind.MAKE_PRIVATE: 8,
    MutationKind.MAKE_PUBLIC: 4,
    MutationKind.REPLACE: 6,
    MutationKind.ADD_BADGE: 20,
    MutationKind.EXPIRE: 6,
    MutationKind.DELETE_BADGE: 2,
    MutationKind.DISABLE_USER: 6,
    MutationKind.ENABLE_USER: 3,
    MutationKind.UNLICENSE_USER: 4,
    MutationKind.REMOVE_USER: 2,
    MutationKind.ADD_ALIAS: 4,
}
"""How often `random_changes` picks each kind."""


class Mutator(BadgeMutations, DirectoryMutations):
    """Applies seeded changes to a world, keeping both stores and its people consistent.

    The same world, seed and calls always give the same changes.

    Every mutation happens at `at` when given, otherwise at the world's clock advanced by
    `step`; either way the world's clock never moves back. Badge mutations set `updated_at`
    (and `state_updated_at`/`accepted_at` as applicable) to that instant and record the
    Credly event the service would send, if it has one. Use one mutator per world at a time:
    it keeps its own index of the world's badges.

    Each method is documented where its behaviour lives: `BadgeMutations` for badges,
    `DirectoryMutations` for directory users.

    Args:
        world: The world to change.
        seed: Seeds the choice of targets and the new ids.
        step: How far the clock advances per mutation when `at` is not given.
    """

    def __init__(
        self, world: World, seed: int = 0, *, step: timedelta = timedelta(seconds=1)
    ) -> None:
        """Seed the stream and index the world."""
        context = MutationContext(world, stream(seed, f"mutations-of-{world.spec.seed}"), step)
        BadgeMutations.__init__(self, context)
        DirectoryMutations.__init__(self, context)

    def random_changes(self, n: int) -> list[Mutation]:
        """Apply `n` mutations of random kinds (weighted by `RANDOM_WEIGHTS`).

        Kinds with no eligible target are skipped in favour of another draw.

        Args:
            n: How many mutations to apply.

        Returns:
            What changed, in order.

        Raises:
            NoEligibleTargetError: When no kind finds a target after many draws.
        """
        rng = self._context.rng
        kinds = list(RANDOM_WEIGHTS)
        weights = list(RANDOM_WEIGHTS.values())
        applied: list[Mutation] = []
        for _ in range(n):
            for _attempt in range(4 * len(kinds)):
                kind = rng.choices(kinds, weights=weights)[0]
                action: Callable[[], Mutation] = getattr(self, _METHODS.get(kind, kind.value))
                try:
                    applied.append(action())
                    break
                except NoEligibleTargetError:
                    continue
            else:
                raise NoEligibleTargetError("no mutation found an eligible target")
        return applied


_METHODS = {MutationKind.ACCEPT: "accept_pending"}
"""The method of each kind whose name is not the kind's value."""
