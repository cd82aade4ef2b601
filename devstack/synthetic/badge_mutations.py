"""Seeded changes to a world's Credly badges, with the events Credly would send for them."""

from __future__ import annotations

from datetime import datetime, timedelta

from devstack.credly.records import Event, IssuedBadge
from devstack.synthetic.draws import below, new_id, pick
from devstack.synthetic.mutation import Mutation, MutationKind
from devstack.synthetic.mutation_context import MutationContext
from devstack.synthetic.people import Person
from devstack.synthetic.vocabulary import REVOCATION_REASONS


class BadgeMutations:
    """Accepts, revokes, hides, shows, replaces, issues, expires and deletes badges.

    Every mutation happens at `at` when given, otherwise at the world's clock advanced by one
    step. It sets `updated_at` (and `state_updated_at`/`accepted_at` as applicable) to that
    instant and records the Credly event the service would send, if it has one.

    Args:
        context: The world, seeded stream, clock and indexes shared with other mutations.
    """

    def __init__(self, context: MutationContext) -> None:
        """Mutate badges of the context's world."""
        self._context = context
        self._templates = list(context.world.template_issuers)

    def accept_pending(self, at: datetime | None = None) -> Mutation:
        """Accept a pending badge of an earner with a Credly account.

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed.
        """
        ctx = self._context
        badge = ctx.pick_badge(lambda b: b.state == "pending" and b.user_id is not None)
        when = ctx.tick(at)
        with ctx.editing():
            badge.state = "accepted"
            badge.accepted_at = badge.state_updated_at = badge.updated_at = when
        return self._badge_mutation(MutationKind.ACCEPT, when, badge, "badge.state.changed")

    def revoke(self, at: datetime | None = None) -> Mutation:
        """Revoke a pending or accepted badge.

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed.
        """
        ctx = self._context
        badge = ctx.pick_badge(lambda b: b.state in ("pending", "accepted"))
        when = ctx.tick(at)
        with ctx.editing():
            badge.state = "revoked"
            badge.revocation_reason = pick(ctx.rng, REVOCATION_REASONS)
            badge.state_updated_at = badge.updated_at = when
        return self._badge_mutation(MutationKind.REVOKE, when, badge, "badge.state.changed")

    def make_private(self, at: datetime | None = None) -> Mutation:
        """Make a public accepted badge private, as its earner would.

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed.
        """
        ctx = self._context
        badge = ctx.pick_badge(lambda b: b.public and b.state == "accepted")
        when = ctx.tick(at)
        with ctx.editing():
            badge.public = False
            badge.updated_at = when
        return self._badge_mutation(MutationKind.MAKE_PRIVATE, when, badge, "badge.privacy.changed")

    def make_public(self, at: datetime | None = None) -> Mutation:
        """Make a private badge public again.

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed.
        """
        ctx = self._context
        badge = ctx.pick_badge(lambda b: not b.public)
        when = ctx.tick(at)
        with ctx.editing():
            badge.public = True
            badge.updated_at = when
        return self._badge_mutation(MutationKind.MAKE_PUBLIC, when, badge, "badge.privacy.changed")

    def replace(self, at: datetime | None = None) -> Mutation:
        """Replace a pending or accepted badge by a newly issued one of the same template.

        The old badge becomes `replaced` and points to the new one (`replacement_badge_id`),
        which points back (`replaces_badge_id`) and keeps the old one's state.

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed: badge ids (old, new); events (created, state changed).
        """
        ctx = self._context
        old = ctx.pick_badge(
            lambda b: (
                b.state in ("pending", "accepted")
                and b.user_id is not None
                and b.replacement_badge_id is None
            )
        )
        when = ctx.tick(at)
        person = ctx.person_of(old)
        new = self._new_badge(person, old.template_id, old.state, when)
        new.replaces_badge_id = old.id
        new.issuer_org_ids = old.issuer_org_ids
        new.locale = old.locale
        with ctx.editing():
            old.state = "replaced"
            old.replacement_badge_id = new.id
            old.state_updated_at = old.updated_at = when
            ctx.store_new(person, new)
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

        Returns:
            What changed.

        Raises:
            ValueError: For another state, or ``"accepted"`` for a person without account.
        """
        ctx = self._context
        if state not in (None, "pending", "accepted"):
            raise ValueError(f"new badges are pending or accepted, not {state}")
        recipient = person if person is not None else pick(ctx.rng, ctx.world.people)
        if state == "accepted" and recipient.credly_user_id is None:
            raise ValueError("only a person with a Credly account can hold an accepted badge")
        if state is None:
            state = (
                "accepted"
                if recipient.credly_user_id is not None and ctx.rng.random() < 0.5
                else "pending"
            )
        held = {b.template_id for b in ctx.badges_of(recipient)}
        fresh = [t for t in self._templates if t not in held] or self._templates
        when = ctx.tick(at)
        badge = self._new_badge(recipient, pick(ctx.rng, fresh), state, when)
        with ctx.editing():
            ctx.store_new(recipient, badge)
        return self._badge_mutation(MutationKind.ADD_BADGE, when, badge, "badge.created")

    def expire(self, at: datetime | None = None, *, touch: bool = True) -> Mutation:
        """Move an accepted badge's expiry just before `at`.

        Credly has no event for expiry, so none is recorded.

        Args:
            at: When; defaults to the advanced world clock.
            touch: Whether `updated_at` moves too (the issuer edited the expiry date); False
                simulates the date simply passing, which Credly does not report as an update.

        Returns:
            What changed.
        """
        ctx = self._context
        when = ctx.peek(at)
        badge = ctx.pick_badge(
            lambda b: b.state == "accepted" and (b.expires_at is None or b.expires_at > when)
        )
        when = ctx.tick(at)
        with ctx.editing():
            badge.expires_at = when - timedelta(seconds=1)
            if touch:
                badge.updated_at = when
        return self._badge_mutation(MutationKind.EXPIRE, when, badge, None)

    def delete_badge(self, at: datetime | None = None) -> Mutation:
        """Delete a badge outright (rare on Credly, which usually revokes or replaces).

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed.
        """
        ctx = self._context
        badge = ctx.pick_badge(
            lambda b: b.replaces_badge_id is None and b.replacement_badge_id is None
        )
        when = ctx.tick(at)
        person = ctx.person_of(badge)
        ctx.world.credly.remove_badge(badge.org_id, badge.id)
        person.badge_ids.remove(badge.id)
        return self._badge_mutation(MutationKind.DELETE_BADGE, when, badge, "badge.deleted")

    # -- internals -------------------------------------------------------------------------

    def _new_badge(
        self, person: Person, template_id: str, state: str, when: datetime
    ) -> IssuedBadge:
        ctx = self._context
        template = ctx.world.credly.templates[template_id]
        expires_at = (
            None if ctx.rng.random() < 0.4 else when + timedelta(days=365 + below(ctx.rng, 2 * 365))
        )
        return IssuedBadge(
            id=new_id(ctx.rng),
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
            issuer_org_ids=ctx.world.template_issuers[template_id],
        )

    def _event(self, badge: IssuedBadge, event_type: str, when: datetime) -> str:
        event = Event(
            id=new_id(self._context.rng),
            org_id=badge.org_id,
            event_type=event_type,
            occurred_at=when,
            badge_id=badge.id,
        )
        self._context.world.credly.add_event(event)
        return event.id

    def _badge_mutation(
        self, kind: MutationKind, when: datetime, badge: IssuedBadge, event_type: str | None
    ) -> Mutation:
        events = () if event_type is None else (self._event(badge, event_type, when),)
        return Mutation(
            kind=kind,
            at=when,
            person_index=self._context.person_of(badge).index,
            badge_ids=(badge.id,),
            event_ids=events,
        )
