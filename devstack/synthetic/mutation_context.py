"""What every mutation of a world shares: the seeded stream, the clock, indexes and targeting."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from devstack.credly.records import IssuedBadge
from devstack.synthetic.draws import below, pick
from devstack.synthetic.mutation import NoEligibleTargetError
from devstack.synthetic.people import Person
from devstack.synthetic.world import World

SAMPLING_TRIES = 256
"""Random probes for an eligible target before falling back to a full scan."""


class MutationContext:
    """One mutator's view of a world: its seeded stream, its clock and its record indexes.

    The badge and directory mutations draw from the one stream held here, in call order, which
    is what makes the same world, seed and calls give the same changes. The indexes are kept
    here too, so use one context per world at a time.

    Args:
        world: The world to change.
        rng: The seeded stream every draw comes from.
        step: How far the clock advances per mutation when no instant is given.
    """

    def __init__(self, world: World, rng: random.Random, step: timedelta) -> None:
        """Index the world's badges and people for targeting."""
        self.world = world
        self.rng = rng
        self.step = step
        # Plain id strings, not (org, id) tuples: 200,000 new tuples would wake the cyclic
        # garbage collector over the whole world again and again.
        self._badge_ids = [b.id for b in world.credly.iter_all_badges()]
        self._by_email = {p.credly_email.lower(): p for p in world.people}

    # -- the clock -------------------------------------------------------------------------

    def peek(self, at: datetime | None) -> datetime:
        """When a mutation would happen: `at`, else the world clock advanced by one step."""
        return at if at is not None else self.world.clock + self.step

    def tick(self, at: datetime | None) -> datetime:
        """When a mutation happens (as `peek`), moving the world clock there but never back."""
        when = self.peek(at)
        self.world.clock = max(self.world.clock, when)
        return when

    # -- editing the Credly store ----------------------------------------------------------

    @contextlib.contextmanager
    def editing(self) -> Iterator[None]:
        """Hold the Credly store's lock while editing records in place, then bump its version.

        The Credly stand-in caches sorted badge lists against that version.
        """
        credly = self.world.credly
        with credly.lock:
            yield
            credly.touch()

    def store_new(self, person: Person, badge: IssuedBadge) -> None:
        """Store a new badge of `person` and index it."""
        self.world.credly.put_badge(badge)
        self._badge_ids.append(badge.id)
        person.badge_ids.append(badge.id)

    def move_email(self, person: Person, email: str) -> None:
        """Re-index `person` under their new Credly email and record it on them."""
        del self._by_email[person.credly_email.lower()]
        self._by_email[email] = person
        person.credly_email = email

    # -- finding records -------------------------------------------------------------------

    def person_of(self, badge: IssuedBadge) -> Person:
        """The person a badge was issued to."""
        return self._by_email[badge.recipient_email.lower()]

    def badges_of(self, person: Person) -> list[IssuedBadge]:
        """The person's stored badges, in issue order."""
        found = (self.world.find_badge(badge_id) for badge_id in person.badge_ids)
        return [badge for badge in found if badge is not None]

    def pick_badge(self, eligible: Callable[[IssuedBadge], bool]) -> IssuedBadge:
        """A random eligible badge: sampled first, then drawn from a full scan.

        Raises:
            NoEligibleTargetError: When no badge is eligible.
        """
        world = self.world
        ids = self._badge_ids
        if ids:
            for _ in range(SAMPLING_TRIES):
                badge = world.find_badge(ids[below(self.rng, len(ids))])
                if badge is not None and eligible(badge):
                    return badge
        candidates = [
            badge
            for org_id in world.org_ids
            for badge in world.credly.org_badges(org_id)
            if eligible(badge)
        ]
        if not candidates:
            raise NoEligibleTargetError("no badge is eligible")
        return pick(self.rng, candidates)

    def pick_person(self, eligible: Callable[[Person], bool]) -> Person:
        """A random eligible person: sampled first, then drawn from a full scan.

        Raises:
            NoEligibleTargetError: When no person is eligible.
        """
        people = self.world.people
        for _ in range(SAMPLING_TRIES):
            person = people[below(self.rng, len(people))]
            if eligible(person):
                return person
        candidates = [p for p in people if eligible(p)]
        if not candidates:
            raise NoEligibleTargetError("no person is eligible")
        return pick(self.rng, candidates)
