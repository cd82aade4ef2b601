"""Synthetic Credly organisations (owners and partners) and their badge templates."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from devstack.credly.records import AuthToken, BadgeTemplate, CredlyData, OAuthApp, Organization
from devstack.synthetic.draws import new_id, new_secret, slugify
from devstack.synthetic.spec import PARTNERS, SHARES, TEMPLATES_PER_ORG, TENANT_DOMAIN, WorldSpec
from devstack.synthetic.vocabulary import (
    DESCRIPTIONS,
    LEVELS,
    OWNER_ORG_SUFFIXES,
    PARTNER_ORGS,
    SKILLS,
    TEMPLATE_TOPICS,
    TIMES_TO_EARN,
    TYPE_CATEGORIES,
)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The organisations and templates of a world.

    Attributes:
        orgs: The organisations the connector reads (each with a token and an OAuth app).
        partners: Co-issuing organisations (no credentials, no badges of their own).
        templates: Every owner organisation's templates.
        issuers: `issuer_org_ids` of each template's badges, by template id (primary first).
    """

    orgs: tuple[Organization, ...]
    partners: tuple[Organization, ...]
    templates: tuple[BadgeTemplate, ...]
    issuers: dict[str, tuple[str, ...]]


def build_catalogue(spec: WorldSpec, rng: random.Random, credly: CredlyData) -> Catalogue:
    """Draw organisations, partners and templates from `rng` and store them in `credly`."""
    orgs = tuple(credly.add_org(_owner_org(spec, rng, i)) for i in range(spec.organisations))
    partner_names = list(PARTNER_ORGS)
    rng.shuffle(partner_names)
    partners = tuple(
        credly.add_org(_partner_org(spec, rng, name)) for name in partner_names[:PARTNERS]
    )
    skill_ids = {name: new_id(rng) for name in SKILLS}
    templates: list[BadgeTemplate] = []
    issuers: dict[str, tuple[str, ...]] = {}
    for org in orgs:
        combos = [(topic, level) for topic in TEMPLATE_TOPICS for level in LEVELS]
        rng.shuffle(combos)
        for topic, level in combos[:TEMPLATES_PER_ORG]:
            name = f"{topic}: {level}"
            template = _template(
                spec,
                rng,
                org=org,
                name=name,
                level=level,
                ordinal=len(templates),
                skill_ids=skill_ids,
            )
            templates.append(credly.add_template(template))
            issuers[template.id] = _issuers(rng, org, partners)
    return Catalogue(orgs=orgs, partners=partners, templates=tuple(templates), issuers=issuers)


def _owner_org(spec: WorldSpec, rng: random.Random, i: int) -> Organization:
    suffix = OWNER_ORG_SUFFIXES[i % len(OWNER_ORG_SUFFIXES)]
    name = f"Contoso {suffix}"
    if i >= len(OWNER_ORG_SUFFIXES):
        name = f"{name} {i // len(OWNER_ORG_SUFFIXES) + 1}"
    token_created = spec.now - timedelta(days=30)
    return Organization(
        id=new_id(rng),
        name=name,
        vanity_slug=slugify(name),
        created_at=spec.history_start - timedelta(days=365),
        website_url=f"https://www.{TENANT_DOMAIN}/{slugify(suffix)}",
        contact_email=f"credly-admin@{TENANT_DOMAIN}",
        tokens=[
            AuthToken(
                id=new_id(rng),
                token=new_secret(rng, 24),
                created_at=token_created,
                expires_at=spec.now + spec.token_lifetime,
            )
        ],
        oauth_apps=[
            OAuthApp(
                id=new_id(rng),
                client_id=new_secret(rng, 16),
                client_secret=new_secret(rng, 32),
            )
        ],
    )


def _partner_org(spec: WorldSpec, rng: random.Random, name: str) -> Organization:
    return Organization(
        id=new_id(rng),
        name=name,
        vanity_slug=slugify(name),
        created_at=spec.history_start - timedelta(days=rng.randrange(30, 2000)),
        website_url=f"https://www.{slugify(name)}.example",
    )


def _template(
    spec: WorldSpec,
    rng: random.Random,
    *,
    org: Organization,
    name: str,
    level: str,
    ordinal: int,
    skill_ids: dict[str, str],
) -> BadgeTemplate:
    certification = rng.random() < SHARES.certification
    # The first templates cycle through every description style, so even small worlds
    # carry Unicode, RTL, emoji and HTML; later ones are mostly plain.
    if ordinal < len(DESCRIPTIONS):
        description = DESCRIPTIONS[ordinal]
    elif rng.random() < 0.6:
        description = DESCRIPTIONS[0]
    else:
        description = rng.choice(DESCRIPTIONS)
    names = rng.sample(SKILLS, rng.randint(1, 5)) if rng.random() >= 0.05 else []
    skills: list[Any]
    if rng.random() < SHARES.skill_objects:
        skills = [_skill_object(skill, skill_ids[skill]) for skill in names]
    else:
        skills = list(names)
    return BadgeTemplate(
        id=new_id(rng),
        owner_org_id=org.id,
        name=name,
        description=description.format(name=name),
        certification=certification,
        skills=skills,
        vanity_slug=slugify(name),
        image_id=new_id(rng),
        created_at=spec.history_start - timedelta(days=rng.randrange(1, 300)),
        level=level,
        type_category="Certification" if certification else rng.choice(TYPE_CATEGORIES[1:]),
        time_to_earn=rng.choice(TIMES_TO_EARN),
        allow_duplicate_badges=rng.random() < 0.1,
    )


def _skill_object(name: str, skill_id: str) -> dict[str, str]:
    slug = slugify(name)
    return {"id": skill_id, "name": name, "vanity_slug": slug if slug != "x" else skill_id[:8]}


def _issuers(
    rng: random.Random, org: Organization, partners: tuple[Organization, ...]
) -> tuple[str, ...]:
    if not partners or rng.random() >= SHARES.partner_issued:
        return (org.id,)
    partner = rng.choice(partners)
    return (partner.id, org.id) if rng.random() < 0.5 else (org.id, partner.id)
