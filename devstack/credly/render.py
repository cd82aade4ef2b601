"""Renders the Credly stand-in's compact records as the JSON the real Credly API returns.

The field set follows Credly's documented issued-badge example (organisation API v1), plus a
few fields real Credly added later or that a parser has never seen, because the API promises
only backwards-compatible additions and clients must ignore what they do not know. Fields
the stand-in has no data for are rendered as Credly renders them when unset (null, false or
empty); sub-objects the records do not store get stable derived ids.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from devstack.credly.records import (
    AuthToken,
    BadgeTemplate,
    CredlyData,
    CredlyUser,
    Event,
    IssuedBadge,
    Organization,
)

WEB_URL = "https://www.credly.com"
API_URL = "https://api.credly.com/v1"
IMAGES_URL = "https://images.credly.com/images"
WEBHOOK_EVENTS = (
    "badge.created",
    "badge.deleted",
    "badge.state.changed",
    "badge_template.created",
    "badge_template.changed",
    "badge_template.deleted",
)
_NAMESPACE = uuid.UUID("6f1d3c1e-8c4b-4f55-9a3e-2f0c5b9d7e41")


def utc(value: datetime) -> datetime:
    """The instant as an aware UTC datetime (naive values are taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_timestamp(value: datetime | None) -> str | None:
    """`2014-04-01T14:41:00.000Z`: UTC with milliseconds."""
    if value is None:
        return None
    value = utc(value)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _timestamps(record: object, *names: str) -> dict[str, str | None]:
    return {name: iso_timestamp(getattr(record, name)) for name in names}


def _copied(record: object, *names: str) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


def derived_id(*parts: str) -> str:
    """A stable UUID for a sub-object the records do not store (alignments, photos...)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def image(image_id: str) -> dict[str, str]:
    """An `image` object on Credly's image host."""
    return {"id": image_id, "url": f"{IMAGES_URL}/{image_id}/image.png"}


def render_entity(org_id: str, org: Organization | None) -> dict[str, Any]:
    """An organisation as an `issuer`/`created_by` entity (a placeholder name when unknown)."""
    slug = org.vanity_slug if org is not None else f"organization-{org_id[:8]}"
    return {
        "type": "Organization",
        "id": org_id,
        "name": org.name if org is not None else f"Organization {org_id[:8]}",
        "url": f"{API_URL}/organizations/{org_id}",
        "vanity_url": f"{WEB_URL}/org/{slug}",
        "verified": True,
    }


def render_organization(org: Organization) -> dict[str, Any]:
    """`GET /organizations/{id}`'s `data`."""
    return {
        **_copied(org, "id", "name", "website_url", "webhook_url", "contact_email", "vanity_slug"),
        "vanity_url": f"{WEB_URL}/org/{org.vanity_slug}",
        "photo_url": image(derived_id("org-photo", org.id))["url"],
        "verified": True,
        "workforce_enabled": False,
        "has_employees": False,
        "allowed_webhooks": list(WEBHOOK_EVENTS),
        "created_at": iso_timestamp(org.created_at),
        "updated_at": iso_timestamp(org.created_at),
    }


def render_token(token: AuthToken, org: Organization) -> dict[str, Any]:
    """One item of `GET /organizations/{id}/authorization_tokens`."""
    entity = render_entity(org.id, org)
    return {
        **_copied(token, "id", "token", "description"),
        **_copied(token, "read_enabled", "write_enabled", "delete_enabled"),
        "owner_id": org.id,
        **_timestamps(token, "created_at", "expires_at"),
        "owner": {key: entity[key] for key in ("type", "id", "name", "url")},
    }


def render_template(template: BadgeTemplate, owner: Organization | None) -> dict[str, Any]:
    """A badge template as embedded in a badge; `skills` exactly as stored."""
    owner_entity = render_entity(template.owner_org_id, owner)
    owner_slug = owner_entity["vanity_url"].rsplit("/", 1)[-1]
    created = iso_timestamp(template.created_at)
    name = template.name
    return {
        **_copied(template, "id", "name", "description", "state", "level", "type_category"),
        **_copied(template, "time_to_earn", "certification", "allow_duplicate_badges"),
        **dict.fromkeys(("cost", "global_activity_url", "criteria_url", "criteria_url_name")),
        "public": True,
        "visibility": "public",
        "recipient_type": "User",
        "vanity_slug": template.vanity_slug,
        "image": image(template.image_id),
        "image_url": image(template.image_id)["url"],
        "url": f"{WEB_URL}/org/{owner_slug}/badge/{template.vanity_slug}",
        "owner": {**owner_entity, "vanity_slug": owner_slug, "viewable": True},
        "skills": list(template.skills),
        "alignments": [
            {
                "id": derived_id("alignment", template.id),
                "name": f"{name} framework",
                "url": "https://www.example.com/alignment",
                "description": f"Aligned with the {name} competency framework",
            }
        ],
        "badge_template_activities": [
            {
                "id": derived_id("activity", template.id),
                "title": f"Complete {name}",
                "activity_type": "Learning",
                "activity_url": f"https://www.example.com/activities/{template.vanity_slug}",
                "required_badge_template_id": None,
            }
        ],
        "recommendations": [],
        "required_badge_templates": [],
        "created_at": created,
        "updated_at": created,
        "state_updated_at": None,
    }


def render_user(user: CredlyUser) -> dict[str, Any]:
    """The earner's Credly account as embedded in a badge."""
    return {
        **_copied(user, "id", "email", "first_name", "last_name", "confirmed"),
        **dict.fromkeys(("middle_name", "current_position_name", "current_organization_name")),
        **dict.fromkeys(("photo", "photo_url")),
        "url": f"{WEB_URL}/users/{user.vanity_slug}",
    }


def render_event(event: Event, badge: dict[str, Any] | None) -> dict[str, Any]:
    """`GET /organizations/{org}/events/{id}`'s `data`, with the badge it concerns."""
    return {
        "id": event.id,
        "organization_id": event.org_id,
        "event_type": event.event_type,
        "occurred_at": iso_timestamp(event.occurred_at),
        "badge": badge,
    }


class BadgeRenderer:
    """Renders the issued badges of a store, with their template, earner and issuers."""

    def __init__(self, data: CredlyData) -> None:
        """Render records of `data`."""
        self.data = data

    def badge(self, badge: IssuedBadge) -> dict[str, Any]:
        """The full issued-badge JSON, with `badge.overrides` merged over it."""
        data = self.data
        stored = data.templates.get(badge.template_id)
        template = render_template(stored, data.orgs.get(stored.owner_org_id)) if stored else None
        user = data.users.get(badge.user_id) if badge.user_id is not None else None
        issuer_ids = badge.issuer_org_ids or (badge.org_id,)
        entities = [render_entity(org_id, data.orgs.get(org_id)) for org_id in issuer_ids]
        badge_image = image(stored.image_id if stored else derived_id("badge-image", badge.id))
        names = (badge.issued_to_first_name, badge.issued_to_last_name)
        rendered: dict[str, Any] = {
            **_copied(badge, "id", "state", "public", "locale", "recipient_email"),
            "issued_to": " ".join(n for n in names if n),
            **_copied(badge, "issued_to_first_name", "issued_to_last_name", "issuer_earner_id"),
            **_copied(badge, "replaces_badge_id", "replacement_badge_id", "revocation_reason"),
            **_timestamps(badge, "issued_at", "expires_at", "created_at", "updated_at"),
            **_timestamps(badge, "state_updated_at", "accepted_at"),
            "issued_at_date": _date(badge.issued_at),
            "expires_at_date": _date(badge.expires_at),
            **dict.fromkeys(("issued_to_middle_name", "country", "country_code")),
            **dict.fromkeys(("state_or_province", "print_method")),
            "suppress_badge_notification_email": False,
            "printing_enabled": False,
            "image": badge_image,
            "image_url": badge_image["url"],
            "badge_url": f"{WEB_URL}/badges/{badge.id}",
            "user": render_user(user) if user is not None else None,
            "created_by": render_entity(badge.org_id, data.orgs.get(badge.org_id)),
            "issuer": {
                "summary": "issued by " + " and ".join(e["name"] for e in entities),
                "entities": [
                    {"label": "Issued by", "primary": index == 0, "entity": entity}
                    for index, entity in enumerate(entities)
                ],
            },
            "badge_template": template,
            "alignments": [
                {"name": a["name"], "description": a["description"]}
                for a in (template["alignments"] if template else [])
            ],
            "evidence": [],
            # Fields no documented parser knows: clients must ignore unknown attributes.
            "translate_metadata": False,
            "x_new_field": {"introduced": "stand-in", "values": [1, 2, 3]},
        }
        return rendered | (badge.overrides or {})


def _date(value: datetime | None) -> str | None:
    """`2014-04-01`: the UTC calendar date of a timestamp."""
    stamp = iso_timestamp(value)
    return stamp[:10] if stamp else None
