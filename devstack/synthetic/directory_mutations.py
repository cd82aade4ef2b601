"""Seeded changes to a world's directory users, keeping their people (and badges) consistent."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from devstack.synthetic.mutation import Mutation, MutationKind, NoEligibleTargetError
from devstack.synthetic.mutation_context import MutationContext
from devstack.synthetic.people import EmailRelation, Person


class DirectoryMutations:
    """Disables, enables, unlicenses and removes directory users, and gives them aliases.

    Every mutation happens at `at` when given, otherwise at the world's clock advanced by one
    step; the changed user is upserted to the directory, so delta queries see it.

    Args:
        context: The world, seeded stream, clock and indexes shared with other mutations.
    """

    def __init__(self, context: MutationContext) -> None:
        """Mutate directory users of the context's world."""
        self._context = context

    def disable_user(self, at: datetime | None = None) -> Mutation:
        """Disable an enabled directory user (`accountEnabled` false).

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed.
        """
        person = self._context.pick_person(lambda p: p.directory_user_id is not None and p.enabled)
        mutation = self._user_mutation(MutationKind.DISABLE_USER, at, person, account_enabled=False)
        person.enabled = False
        return mutation

    def enable_user(self, at: datetime | None = None) -> Mutation:
        """Enable a disabled directory user.

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed.
        """
        person = self._context.pick_person(
            lambda p: p.directory_user_id is not None and not p.enabled
        )
        mutation = self._user_mutation(MutationKind.ENABLE_USER, at, person, account_enabled=True)
        person.enabled = True
        return mutation

    def unlicense_user(self, at: datetime | None = None) -> Mutation:
        """Remove every licence (and so the mailbox) of a licensed directory user.

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed.
        """
        person = self._context.pick_person(lambda p: p.directory_user_id is not None and p.licensed)
        mutation = self._user_mutation(
            MutationKind.UNLICENSE_USER, at, person, assigned_licenses=[], assigned_plans=[]
        )
        person.licensed = False
        return mutation

    def remove_user(self, at: datetime | None = None) -> Mutation:
        """Delete a directory user; their Credly badges stay, now with no directory match.

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed.
        """
        ctx = self._context
        person = ctx.pick_person(lambda p: p.directory_user_id is not None)
        user_id = person.directory_user_id
        assert user_id is not None
        when = ctx.tick(at)
        ctx.world.directory.remove(user_id)
        person.directory_user_id = None
        person.email_relation = EmailRelation.NONE
        person.enabled = person.licensed = False
        return Mutation(
            kind=MutationKind.REMOVE_USER, at=when, person_index=person.index, user_id=user_id
        )

    def add_alias(self, at: datetime | None = None) -> Mutation:
        """Give a mailbox user a new `smtp:` alias and move their Credly email to it.

        Every badge of the person gets the alias as `recipient_email` (and a new
        `updated_at`); Credly sends no event for that.

        Args:
            at: When; defaults to the advanced world clock.

        Returns:
            What changed; `detail` is the alias.
        """
        ctx = self._context
        directory = ctx.world.directory

        def eligible(p: Person) -> bool:
            if p.directory_user_id is None or p.email_relation not in (
                EmailRelation.MAIL,
                EmailRelation.UPN,
            ):
                return False
            user = directory.get(p.directory_user_id)
            return user is not None and user.mail is not None

        person = ctx.pick_person(eligible)
        user_id = person.directory_user_id
        assert user_id is not None
        user = directory.get(user_id)
        assert user is not None
        alias = ctx.world.addresses.alias(ctx.rng, person.mail_local, ctx.world.spec.tenant_domain)
        mutation = self._user_mutation(
            MutationKind.ADD_ALIAS,
            at,
            person,
            proxy_addresses=[*user.proxy_addresses, f"smtp:{alias}"],
        )
        badges = ctx.badges_of(person)
        with ctx.editing():
            for badge in badges:
                badge.recipient_email = alias
                badge.updated_at = mutation.at
        ctx.move_email(person, alias)
        person.email_relation = EmailRelation.PROXY_ALIAS
        person.mixed_case = False
        return dataclasses.replace(mutation, badge_ids=tuple(b.id for b in badges), detail=alias)

    def _user_mutation(
        self, kind: MutationKind, at: datetime | None, person: Person, **changes: Any
    ) -> Mutation:
        """Upsert the person's directory user with `changes` at the mutation's instant."""
        ctx = self._context
        user_id = person.directory_user_id
        assert user_id is not None
        directory = ctx.world.directory
        user = directory.get(user_id)
        if user is None:
            raise NoEligibleTargetError(f"directory user {user_id} is gone")
        when = ctx.tick(at)
        directory.upsert(dataclasses.replace(user, **changes))
        return Mutation(kind=kind, at=when, person_index=person.index, user_id=user_id)
