"""Seeded changes to a built world (both stores and its ground truth) for incremental tests."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from devstack.credly.records import Event, IssuedBadge
from devstack.synthetic.draws import below, new_id, pick, stream
from devstack.synthetic.mutation import Mutation, MutationKind, NoEligibleTargetError
from devstack.synthetic.people import EmailRelation, Person
from devstack.synthetic.vocabulary import REVOCATION_REASONS
from devstack.synthetic.world import World

__all__ = ["Mutation", "MutationKind", "Mutator", "NoEligibleTargetError"]

SAMPLING_TRIES = 256
"""Random probes for an eligible target before falling back to a full scan."""

RANDOM_WEIGHTS: dict[str, int] = {
    "accept_pending": 20,
    "revoke": 8,
    "make_private": 8,
    "make_public": 4,
    "replace": 6,
    "add_badge": 20,
    "expire": 6,
    "delete_badge": 2,
    "disable_user": 6,
    "enable_user": 3,
    "unlicense_user": 4,
    "remove_user": 2,
    "add_alias": 4,
}
"""How often `random_changes` picks each mutation (by method name)."""


class Mutator:
    """Applies seeded changes to a world, keeping both stores and its people consistent.

    The same world, seed and calls always give the same changes: every draw comes from one
    stream, in call order. Each mutation happens at `at` when given, otherwise at the world's
    clock advanced by `step`; either way the world's clock never moves back. Badge mutations
    set `updated_at` (and `state_updated_at`/`accepted_at` as applicable) to that instant and
    record the Credly event the service would send, if it has one; user mutations upsert the
    directory user, so delta queries see them. Each returns the `Mutation` it made and raises
    `NoEligibleTargetError` when no record qualifies. Use one mutator per world at a time: it
    keeps its own index of the world's badges.

    Args:
        world: The world to change.
        seed: Seeds the choice of targets and the new ids.
        step: How far the clock advances per mutation when `at` is not given.
    """

    def __init__(
        self, world: World, seed: int = 0, *, step: timedelta = timedelta(seconds=1)
    ) -> None:
        """Seed the stream and index the world."""
        self.world = world
        self.rng = stream(seed, f"mutations-of-{world.spec.seed}")
        self.step = step
        self._templates = list(world.template_issuers)
        # Plain id strings, not (org, id) tuples: 200,000 new tuples would wake the cyclic
        # garbage collector over the whole world again and again.
        self._badge_ids = [b.id for b in world.credly.iter_all_badges()]
        self._by_email = {p.credly_email.lower(): p for p in world.people}

    # -- badges ----------------------------------------------------------------------------

    def accept_pending(self, at: datetime | None = None) -> Mutation:
        """Accept a pending badge of an earner with a Credly account."""
        badge = self._pick_badge(lambda b: b.state == "pending" and b.user_id is not None)
        when = self._tick(at)
        with self._editing():
            badge.state = "accepted"
            badge.accepted_at = badge.state_updated_at = badge.updated_at = when
        return self._badge_mutation(MutationKind.ACCEPT, when, badge, "badge.state.changed")

    def revoke(self, at: datetime | None = None) -> Mutation:
        """Revoke a pending or accepted badge, with a reason."""
        badge = self._pick_badge(lambda b: b.state in ("pending", "accepted"))
        when = self._tick(at)
        with self._editing():
            badge.state = "revoked"
            badge.revocation_reason = pick(self.rng, REVOCATION_REASONS)
            badge.state_updated_at = badge.updated_at = when
        return self._badge_mutation(MutationKind.REVOKE, when, badge, "badge.state.changed")

    def make_private(self, at: datetime | None = None) -> Mutation:
        """Make a public accepted badge private, as its earner would."""
        return self._set_public(False, at, lambda b: b.public and b.state == "accepted")

    def make_public(self, at: datetime | None = None) -> Mutation:
        """Make a private badge public again."""
        return self._set_public(True, at, lambda b: not b.public)

    def replace(self, at: datetime | None = None) -> Mutation:
        """Replace a pending or accepted badge by a newly issued one of the same template.

        The old badge becomes `replaced` and points to the new one (`replacement_badge_id`),
        which points back (`replaces_badge_id`) and keeps the old one's state. The mutation
        names the badges (old, new) and the events (created, state changed).
        """
        old = self._pick_badge(
            lambda b: (
                b.state in ("pending", "accepted")
                and b.user_id is not None
                and b.replacement_badge_id is None
            )
        )
        when = self._tick(at)
        person = self._person_of(old)
        new = self._new_badge(person, old.template_id, old.state, when)
        new.replaces_badge_id = old.id
        new.issuer_org_ids = old.issuer_org_ids
        new.locale = old.locale
        with self._editing():
            old.state = "replaced"
            old.replacement_badge_id = new.id
            old.state_updated_at = old.updated_at = when
            self._store_new(person, new)
        created = self._event(new, "badge.created", when)
        changed = self._event(old, "badge.state.changed", when)
        return Mutation(
            kind=MutationKind.REPLACE,
            at=when,
            person_index=person.index,
            badge_ids=(old.id, new.id),
            event_ids=(created, changed),
        )

    def add_badge(
        self, person: Person | None = None, at: datetime | None = None, *, state: str | None = None
    ) -> Mutation:
        """Issue a new badge, of a template the person does not hold yet where possible.

        Args:
            person: The recipient; defaults to a random person (maybe one without badges).
            at: When; defaults to the advanced world clock.
            state: ``"pending"`` or ``"accepted"``; defaults to a random one of those (always
                pending without a Credly account).

        Raises:
            ValueError: For another state, or ``"accepted"`` for a person without account.
        """
        rng = self.rng
        if state not in (None, "pending", "accepted"):
            raise ValueError(f"new badges are pending or accepted, not {state}")
        recipient = person if person is not None else pick(rng, self.world.people)
        has_account = recipient.credly_user_id is not None
        if state == "accepted" and not has_account:
            raise ValueError("only a person with a Credly account can hold an accepted badge")
        if state is None:
            state = "accepted" if has_account and rng.random() < 0.5 else "pending"
        held = {b.template_id for b in self._badges_of(recipient)}
        fresh = [t for t in self._templates if t not in held] or self._templates
        when = self._tick(at)
        badge = self._new_badge(recipient, pick(rng, fresh), state, when)
        with self._editing():
            self._store_new(recipient, badge)
        return self._badge_mutation(MutationKind.ADD_BADGE, when, badge, "badge.created")

    def expire(self, at: datetime | None = None) -> Mutation:
        """Move an accepted badge's expiry just before `at` (the issuer edited it); no event."""
        when = self._peek(at)
        badge = self._pick_badge(
            lambda b: b.state == "accepted" and (b.expires_at is None or b.expires_at > when)
        )
        when = self._tick(at)
        with self._editing():
            badge.expires_at = when - timedelta(seconds=1)
            badge.updated_at = when
        return self._badge_mutation(MutationKind.EXPIRE, when, badge, None)

    def delete_badge(self, at: datetime | None = None) -> Mutation:
        """Delete a badge outright (rare on Credly, which usually revokes or replaces)."""
        badge = self._pick_badge(
            lambda b: b.replaces_badge_id is None and b.replacement_badge_id is None
        )
        when = self._tick(at)
        self.world.credly.remove_badge(badge.org_id, badge.id)
        self._person_of(badge).badge_ids.remove(badge.id)
        return self._badge_mutation(MutationKind.DELETE_BADGE, when, badge, "badge.deleted")

    # -- directory users -------------------------------------------------------------------

    def disable_user(self, at: datetime | None = None) -> Mutation:
        """Disable an enabled directory user (`accountEnabled` false)."""
        person = self._pick_person(lambda p: p.directory_user_id is not None and p.enabled)
        mutation = self._user_mutation(MutationKind.DISABLE_USER, at, person, account_enabled=False)
        person.enabled = False
        return mutation

    def enable_user(self, at: datetime | None = None) -> Mutation:
        """Enable a disabled directory user."""
        person = self._pick_person(lambda p: p.directory_user_id is not None and not p.enabled)
        mutation = self._user_mutation(MutationKind.ENABLE_USER, at, person, account_enabled=True)
        person.enabled = True
        return mutation

    def unlicense_user(self, at: datetime | None = None) -> Mutation:
        """Remove every licence (and so the mailbox) of a licensed directory user."""
        person = self._pick_person(lambda p: p.directory_user_id is not None and p.licensed)
        mutation = self._user_mutation(
            MutationKind.UNLICENSE_USER, at, person, assigned_licenses=[], assigned_plans=[]
        )
        person.licensed = False
        return mutation

    def remove_user(self, at: datetime | None = None) -> Mutation:
        """Delete a directory user; their Credly badges stay, now with no directory match."""
        person = self._pick_person(lambda p: p.directory_user_id is not None)
        user_id = person.directory_user_id
        assert user_id is not None
        when = self._tick(at)
        self.world.directory.remove(user_id)
        person.directory_user_id = None
        person.email_relation = EmailRelation.NONE
        person.enabled = person.licensed = False
        return Mutation(
            kind=MutationKind.REMOVE_USER, at=when, person_index=person.index, user_id=user_id
        )

    def add_alias(self, at: datetime | None = None) -> Mutation:
        """Give a mailbox user a new `smtp:` alias and move their Credly email to it.

        Every badge of the person gets the alias as `recipient_email` (and a new
        `updated_at`); Credly sends no event for that. The mutation's `detail` is the alias.
        """
        directory = self.world.directory

        def eligible(p: Person) -> bool:
            user = None if p.directory_user_id is None else directory.get(p.directory_user_id)
            mailbox = user is not None and user.mail is not None
            return mailbox and p.email_relation in (EmailRelation.MAIL, EmailRelation.UPN)

        person = self._pick_person(eligible)
        assert person.directory_user_id is not None
        user = directory.get(person.directory_user_id)
        assert user is not None
        alias = self.world.addresses.alias(self.rng, person.mail_local)
        mutation = self._user_mutation(
            MutationKind.ADD_ALIAS,
            at,
            person,
            proxy_addresses=[*user.proxy_addresses, f"smtp:{alias}"],
        )
        badges = self._badges_of(person)
        with self._editing():
            for badge in badges:
                badge.recipient_email = alias
                badge.updated_at = mutation.at
        del self._by_email[person.credly_email.lower()]
        self._by_email[alias] = person
        person.credly_email = alias
        person.email_relation = EmailRelation.PROXY_ALIAS
        person.mixed_case = False
        return dataclasses.replace(mutation, badge_ids=tuple(b.id for b in badges), detail=alias)

    def random_changes(self, n: int) -> list[Mutation]:
        """Apply `n` mutations of random kinds (weighted by `RANDOM_WEIGHTS`).

        Kinds with no eligible target are skipped in favour of another draw.

        Raises:
            NoEligibleTargetError: When no kind finds a target after many draws.
        """
        names = list(RANDOM_WEIGHTS)
        weights = list(RANDOM_WEIGHTS.values())
        applied: list[Mutation] = []
        for _ in range(n):
            for _attempt in range(4 * len(names)):
                action: Callable[[], Mutation] = getattr(self, self.rng.choices(names, weights)[0])
                try:
                    applied.append(action())
                    break
                except NoEligibleTargetError:
                    continue
            else:
                raise NoEligibleTargetError("no mutation found an eligible target")
        return applied

    # -- the clock, the stores and targeting -----------------------------------------------

    def _peek(self, at: datetime | None) -> datetime:
        """When a mutation would happen: `at`, else the world clock advanced by one step."""
        return at if at is not None else self.world.clock + self.step

    def _tick(self, at: datetime | None) -> datetime:
        """When a mutation happens (as `_peek`), moving the world clock there but never back."""
        when = self._peek(at)
        self.world.clock = max(self.world.clock, when)
        return when

    @contextlib.contextmanager
    def _editing(self) -> Iterator[None]:
        """Hold the Credly store's lock while editing records in place, then bump its version.

        The Credly stand-in caches sorted badge lists against that version.
        """
        credly = self.world.credly
        with credly.lock:
            yield
            credly.touch()

    def _store_new(self, person: Person, badge: IssuedBadge) -> None:
        self.world.credly.put_badge(badge)
        self._badge_ids.append(badge.id)
        person.badge_ids.append(badge.id)

    def _person_of(self, badge: IssuedBadge) -> Person:
        return self._by_email[badge.recipient_email.lower()]

    def _badges_of(self, person: Person) -> list[IssuedBadge]:
        found = (self.world.find_badge(badge_id) for badge_id in person.badge_ids)
        return [badge for badge in found if badge is not None]

    def _pick_badge(self, eligible: Callable[[IssuedBadge], bool]) -> IssuedBadge:
        """A random eligible badge: sampled first, then drawn from a full scan."""
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

    def _pick_person(self, eligible: Callable[[Person], bool]) -> Person:
        """A random eligible person: sampled first, then drawn from a full scan."""
        people = self.world.people
        for _ in range(SAMPLING_TRIES):
            person = people[below(self.rng, len(people))]
            if eligible(person):
                return person
        candidates = [p for p in people if eligible(p)]
        if not candidates:
            raise NoEligibleTargetError("no person is eligible")
        return pick(self.rng, candidates)

    def _set_public(
        self, public: bool, at: datetime | None, eligible: Callable[[IssuedBadge], bool]
    ) -> Mutation:
        badge = self._pick_badge(eligible)
        when = self._tick(at)
        with self._editing():
            badge.public = public
            badge.updated_at = when
        kind = MutationKind.MAKE_PUBLIC if public else MutationKind.MAKE_PRIVATE
        return self._badge_mutation(kind, when, badge, "badge.privacy.changed")

    def _new_badge(
        self, person: Person, template_id: str, state: str, when: datetime
    ) -> IssuedBadge:
        rng = self.rng
        template = self.world.credly.templates[template_id]
        expires_at = (
            None if rng.random() < 0.4 else when + timedelta(days=365 + below(rng, 2 * 365))
        )
        return IssuedBadge(
            id=new_id(rng),
            org_id=template.owner_org_id,
            template_id=template_id,
            recipient_email=person.credly_email,
            issued_to_first_name=person.first_name,
            issued_to_last_name=person.last_name,
            user_id=person.credly_user_id,
            state=state,
            public=True,
            issued_at=when,
            expires_at=expires_at,
            created_at=when,
            updated_at=when,
            state_updated_at=when,
            accepted_at=when if state == "accepted" else None,
            issuer_earner_id=person.earner_id,
            issuer_org_ids=self.world.template_issuers[template_id],
        )

    def _event(self, badge: IssuedBadge, event_type: str, when: datetime) -> str:
        event = Event(
            id=new_id(self.rng),
            org_id=badge.org_id,
            event_type=event_type,
            occurred_at=when,
            badge_id=badge.id,
        )
        self.world.credly.add_event(event)
        return event.id

    def _badge_mutation(
        self, kind: MutationKind, when: datetime, badge: IssuedBadge, event_type: str | None
    ) -> Mutation:
        events = () if event_type is None else (self._event(badge, event_type, when),)
        return Mutation(
            kind=kind,
            at=when,
            person_index=self._person_of(badge).index,
            badge_ids=(badge.id,),
            event_ids=events,
        )

    def _user_mutation(
        self, kind: MutationKind, at: datetime | None, person: Person, **changes: Any
    ) -> Mutation:
        """Upsert the person's directory user with `changes` at the mutation's instant."""
        user_id = person.directory_user_id
        assert user_id is not None
        directory = self.world.directory
        user = directory.get(user_id)
        if user is None:
            raise NoEligibleTargetError(f"directory user {user_id} is gone")
        when = self._tick(at)
        directory.upsert(dataclasses.replace(user, **changes))
        return Mutation(kind=kind, at=when, person_index=person.index, user_id=user_id)
