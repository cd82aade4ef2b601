"""Synthetic people: their directory users, Credly accounts, and how their emails relate."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devstack.credly.records import CredlyData, CredlyUser
from devstack.graph.directory import Directory, DirectoryUser
from devstack.synthetic.accounts import AddressBook, exchange_licence
from devstack.synthetic.draws import below, new_id, pick, recase
from devstack.synthetic.spec import INITIAL_DOMAIN, SHARES, TENANT_DOMAIN, WorldSpec
from devstack.synthetic.vocabulary import (
    DEPARTMENTS,
    EXTERNAL_DOMAINS,
    FIRST_NAMES,
    JOB_TITLES,
    LAST_NAMES,
    PERSONAL_DOMAINS,
)


class EmailRelation(StrEnum):
    """Which directory property a person's Credly email equals (ignoring case)."""

    MAIL = "mail"
    """The user's `mail` (and `SMTP:` primary proxy address); maybe also the UPN."""
    UPN = "upn"
    """The user's `userPrincipalName` only: it differs from `mail`, or `mail` is null."""
    PROXY_ALIAS = "proxy_alias"
    """Only an `smtp:` (secondary) entry of `proxyAddresses`."""
    OTHER_MAIL = "other_mail"
    """Only an entry of `otherMails`."""
    NONE = "none"
    """No directory user has it (personal or partner address, or a removed user)."""


@dataclass(slots=True)
class Person:
    """Ground truth about one person as generated; mutations keep it current.

    Attributes:
        index: Position in `World.people`.
        first_name: Given name as shown (may be non-ASCII).
        last_name: Surname as shown.
        mail_local: The ASCII `first.last` form the person's addresses are built from.
        credly_email: The `recipient_email` of the person's badges (case as on Credly).
        email_relation: How `credly_email` relates to the person's directory user.
        mixed_case: Whether `credly_email` differs in case from the directory's value.
        directory_user_id: The Entra object id, or None without a directory user.
        credly_user_id: The Credly account id, or None when the person has no account.
        enabled: The directory user's `accountEnabled` (False without a directory user).
        licensed: Whether the directory user has an enabled Exchange plan, i.e. the
            directory's `has_mailbox` (False without a directory user).
        earner_id: The `issuer_earner_id` on the person's badges (an employee number or the
            Entra object id), or None.
        badge_ids: The person's badge ids in issue order.
    """

    index: int
    first_name: str
    last_name: str
    mail_local: str
    credly_email: str
    email_relation: EmailRelation = EmailRelation.NONE
    mixed_case: bool = False
    directory_user_id: str | None = None
    credly_user_id: str | None = None
    enabled: bool = False
    licensed: bool = False
    earner_id: str | None = None
    badge_ids: list[str] = field(default_factory=list)


def build_people(
    spec: WorldSpec,
    rng: random.Random,
    directory: Directory,
    credly: CredlyData,
    addresses: AddressBook,
) -> tuple[list[Person], list[bool]]:
    """Draw every person into the stores, then open Credly accounts for most badge holders.

    Returns:
        The people, and for each whether they hold badges (a few directory users hold
        none; at least one person always does).
    """
    builder = _PeopleBuilder(rng, directory, credly, addresses, spec.licence_assigned_at)
    people: list[Person] = []
    holders: list[bool] = []
    for index in range(spec.people_count):
        person, holds = builder.draw_person(index)
        people.append(person)
        holders.append(holds)
    if not any(holders):
        holders[0] = True
    no_account = SHARES.no_credly_account
    for person, holds in zip(people, holders, strict=True):
        if holds and rng.random() >= no_account:
            person.credly_user_id = builder.open_credly_account(person).id
    return people, holders


@dataclass(slots=True)
class _PeopleBuilder:
    """Draws people from one stream and writes their users and accounts into the stores."""

    rng: random.Random
    directory: Directory
    credly: CredlyData
    addresses: AddressBook
    assigned_at: str
    """The licence timestamp, formatted once: every user shares the one string."""

    def draw_person(self, index: int) -> tuple[Person, bool]:
        """A person, and whether they hold badges; members get a directory user."""
        rng = self.rng
        p = SHARES
        first, first_ascii = pick(rng, FIRST_NAMES)
        last, last_ascii = pick(rng, LAST_NAMES)
        local = f"{first_ascii}.{last_ascii}"
        if rng.random() >= p.no_directory:
            return self._draw_member(index, first, last, local)
        email = self.addresses.claim(local, pick(rng, PERSONAL_DOMAINS + EXTERNAL_DOMAINS))
        mixed = rng.random() < p.mixed_case
        credly_email = recase(email, rng) if mixed else email
        return Person(index, first, last, local, credly_email, mixed_case=mixed), True

    def _draw_member(self, index: int, first: str, last: str, local: str) -> tuple[Person, bool]:
        rng = self.rng
        p = SHARES
        primary = self.addresses.claim(local, TENANT_DOMAIN)
        mail: str | None = primary
        upn_differs = rng.random() < p.upn_differs
        first_ascii, _, last_ascii = local.partition(".")
        upn = (
            self.addresses.claim(f"{first_ascii[:1]}{last_ascii}", INITIAL_DOMAIN)
            if upn_differs
            else primary
        )
        enabled = rng.random() >= p.disabled
        licensed = rng.random() >= p.unlicensed
        licences: list[dict[str, Any]] = []
        plans: list[dict[str, Any]] = []
        if licensed:
            licences, plans = exchange_licence(self.assigned_at)
        elif rng.random() < 0.3:
            # A licence whose Exchange plan is suspended: licensed on paper, no mailbox.
            licences, plans = exchange_licence(self.assigned_at, status="Suspended")
        elif rng.random() < 0.5:
            # No mailbox was ever provisioned: Graph shows no mail and no proxy addresses.
            mail = None
        proxies = [] if mail is None else [f"SMTP:{mail}"]

        relation = self._draw_relation(upn_differs, has_mail=mail is not None)
        other_mails: list[str] = []
        credly_email = primary
        if relation is EmailRelation.UPN:
            credly_email = upn
        elif relation is EmailRelation.PROXY_ALIAS:
            credly_email = self.addresses.alias(rng, local)
            proxies.append(f"smtp:{credly_email}")
        elif relation is EmailRelation.OTHER_MAIL:
            credly_email = self.addresses.personal(rng, local.replace(".", ""))
            other_mails.append(credly_email)

        mixed = rng.random() < p.mixed_case
        if mixed and mail is not None and relation is EmailRelation.MAIL and rng.random() < 0.3:
            # This time the directory holds the capitals and Credly the lower-case form.
            recased = recase(mail, rng)
            proxies[0] = f"SMTP:{recased}"
            upn = recased if upn == mail else upn
            mail = recased
        elif mixed:
            credly_email = recase(credly_email, rng)

        user_id = new_id(rng)
        earner_draw = rng.random()
        earner_id: str | None = None
        if earner_draw >= 0.8:
            earner_id = f"E{100000 + below(rng, 900000)}"
        elif earner_draw >= 0.7:
            earner_id = user_id
        self.directory.upsert(
            DirectoryUser(
                id=user_id,
                display_name=f"{first} {last}",
                user_principal_name=upn,
                mail=mail,
                given_name=first,
                surname=last,
                proxy_addresses=proxies,
                other_mails=other_mails,
                account_enabled=enabled,
                assigned_licenses=licences,
                assigned_plans=plans,
                job_title=pick(rng, JOB_TITLES),
                department=pick(rng, DEPARTMENTS),
            )
        )
        person = Person(
            index=index,
            first_name=first,
            last_name=last,
            mail_local=local,
            credly_email=credly_email,
            email_relation=relation,
            mixed_case=mixed,
            directory_user_id=user_id,
            enabled=enabled,
            licensed=licensed,
            earner_id=earner_id,
        )
        return person, rng.random() >= p.directory_only

    def _draw_relation(self, upn_differs: bool, *, has_mail: bool) -> EmailRelation:
        p = SHARES
        draw = self.rng.random()
        if draw < p.other_mail:
            return EmailRelation.OTHER_MAIL
        if has_mail and draw < p.other_mail + p.proxy_alias:
            return EmailRelation.PROXY_ALIAS
        if not has_mail:
            return EmailRelation.UPN
        if upn_differs and self.rng.random() < p.credly_uses_upn:
            return EmailRelation.UPN
        return EmailRelation.MAIL

    def open_credly_account(self, person: Person) -> CredlyUser:
        """Store a Credly account for `person`.

        Most accounts use the badge's address; some use a personal address instead, which is
        why `user.email` may differ from `recipient_email`.
        """
        rng = self.rng
        email = person.credly_email.lower()
        if person.email_relation is not EmailRelation.NONE and rng.random() < 0.15:
            email = self.addresses.personal(rng, person.mail_local.replace(".", ""))
        account_id = new_id(rng)
        return self.credly.add_user(
            CredlyUser(
                id=account_id,
                email=email,
                first_name=person.first_name,
                last_name=person.last_name,
                vanity_slug=f"{person.mail_local.replace('.', '-')}.{account_id[:5]}",
                confirmed=rng.random() >= 0.03,
            )
        )
