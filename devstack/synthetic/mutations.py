"""Seeded changes to a built world (both stores and its ground truth) for incremental tests.

`Mutator` is the one entry point: it seeds the stream, hands each change to the module that
owns it (`badge_mutations`, `directory_mutations`) through one shared `MutationContext`
(`mutation_context`), and draws weighted random batches. The value types live in `mutation`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from devstack.synthetic.badge_mutations import BadgeMutations
from devstack.synthetic.directory_mutations import DirectoryMutations
from devstack.synthetic.draws import stream
from devstack.synthetic.mutation import Mutation, MutationKind, NoEligibleTargetError
from devstack.synthetic.mutation_context import SAMPLING_TRIES, MutationContext
from devstack.synthetic.people import Person
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


class Mutator:
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
        self._context = MutationContext(
            world, stream(seed, f"mutations-of-{world.spec.seed}"), step
        )
        self._badges = BadgeMutations(self._context)
        self._users = DirectoryMutations(self._context)

    # -- badges ----------------------------------------------------------------------------

    def accept_pending(self, at: datetime | None = None) -> Mutation:
        """Accept a pending badge of an earner with a Credly account (`at`: when)."""
        return self._badges.accept_pending(at)

    def revoke(self, at: datetime | None = None) -> Mutation:
        """Revoke a pending or accepted badge (`at`: when)."""
        return self._badges.revoke(at)

    def make_private(self, at: datetime | None = None) -> Mutation:
        """Make a public accepted badge private, as its earner would (`at`: when)."""
        return self._badges.make_private(at)

    def make_public(self, at: datetime | None = None) -> Mutation:
        """Make a private badge public again (`at`: when)."""
        return self._badges.make_public(at)

    def replace(self, at: datetime | None = None) -> Mutation:
        """Replace a pending or accepted badge by a new one of its template (`at`: when)."""
        return self._badges.replace(at)

    def add_badge(
        self, person: Person | None = None, at: datetime | None = None, *, state: str | None = None
    ) -> Mutation:
        """Issue a new badge, of a template the person does not hold yet where possible.

        Args:
            person: The recipient; defaults to a random person.
            at: When; defaults to the advanced world clock.
            state: ``"pending"`` or ``"accepted"``; defaults to a random one of those.

        Returns:
            What changed.

        Raises:
            ValueError: For another state, or ``"accepted"`` for a person without account.
        """
        return self._badges.add_badge(person, at, state=state)

    def expire(self, at: datetime | None = None, *, touch: bool = True) -> Mutation:
        """Move an accepted badge's expiry just before `at` (Credly sends no event).

        Args:
            at: When; defaults to the advanced world clock.
            touch: Whether `updated_at` moves too; False simulates the date simply passing.

        Returns:
            What changed.
        """
        return self._badges.expire(at, touch=touch)

    def delete_badge(self, at: datetime | None = None) -> Mutation:
        """Delete a badge outright (`at`: when)."""
        return self._badges.delete_badge(at)

    # -- directory users -------------------------------------------------------------------

    def disable_user(self, at: datetime | None = None) -> Mutation:
        """Disable an enabled directory user (`at`: when)."""
        return self._users.disable_user(at)

    def enable_user(self, at: datetime | None = None) -> Mutation:
        """Enable a disabled directory user (`at`: when)."""
        return self._users.enable_user(at)

    def unlicense_user(self, at: datetime | None = None) -> Mutation:
        """Remove every licence (and so the mailbox) of a licensed directory user."""
        return self._users.unlicense_user(at)

    def remove_user(self, at: datetime | None = None) -> Mutation:
        """Delete a directory user; their Credly badges stay (`at`: when)."""
        return self._users.remove_user(at)

    def add_alias(self, at: datetime | None = None) -> Mutation:
        """Give a mailbox user a new `smtp:` alias and move their Credly email to it."""
        return self._users.add_alias(at)

    # -- batches ---------------------------------------------------------------------------

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
        actions: dict[MutationKind, Callable[[], Mutation]] = {
            MutationKind.ACCEPT: self.accept_pending,
            MutationKind.REVOKE: self.revoke,
            MutationKind.MAKE_PRIVATE: self.make_private,
            MutationKind.MAKE_PUBLIC: self.make_public,
            MutationKind.REPLACE: self.replace,
            MutationKind.ADD_BADGE: self.add_badge,
            MutationKind.EXPIRE: self.expire,
            MutationKind.DELETE_BADGE: self.delete_badge,
            MutationKind.DISABLE_USER: self.disable_user,
            MutationKind.ENABLE_USER: self.enable_user,
            MutationKind.UNLICENSE_USER: self.unlicense_user,
            MutationKind.REMOVE_USER: self.remove_user,
            MutationKind.ADD_ALIAS: self.add_alias,
        }
        applied: list[Mutation] = []
        for _ in range(n):
            for _attempt in range(4 * len(kinds)):
                kind = rng.choices(kinds, weights=weights)[0]
                try:
                    applied.append(actions[kind]())
                    break
                except NoEligibleTargetError:
                    continue
            else:
                raise NoEligibleTargetError("no mutation found an eligible target")
        return applied
