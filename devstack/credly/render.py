"""Renders the Credly stand-in's compact records as the JSON the real Credly API returns.

The field set follows Credly's documented issued-badge example (organisation API v1), plus a
few fields real Credly added later or that a parser has never seen, because the API promises
only backwards-compatible additions and clients must ignore what they do not know. Template,
organisation and user parts are rendered once and shared between badges: treat the returned
dicts as read-only.
"""

from __future__ import annotations

import threading
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


def iso_timestamp(value: datetime | None) -> str | None:
    """`2014-04-01T14:41:00.000Z`: UTC with milliseconds (naive values are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def iso_date(value: datetime | None) -> str | None:
    """`2014-04-01`: the UTC calendar date of a timestamp."""
    if value is None:
        return None
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return f"{value:%Y-%m-%d}"


def derived_id(*parts: str) -> str:
    """A stable UUID for a sub-object the records do not store (alignments, photos...)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def image(image_id: str) -> dict[str, str]:
    """An `image` object on Credly's image host."""
    return {"id": image_id, "url": f"{IMAGES_URL}/{image_id}/image.png"}


def org_api_url(org_id: str) -> str:
    """The API URL of an organisation, as embedded in entities."""
    return f"{API_URL}/organizations/{org_id}"


def render_entity(org_id: str, org: Organization | None) -> dict[str, Any]:
    """An organisation as an `issuer`/`created_by` entity (a placeholder name when unknown)."""
    slug = org.vanity_slug if org is not None else f"organization-{org_id[:8]}"
    return {
        "type": "Organization",
        "id": org_id,
        "name": org.name if org is not None else f"Organization {org_id[:8]}",
        "url": org_api_url(org_id),
        "vanity_url": f"{WEB_URL}/org/{slug}",
        "verified": True,
    }


def render_organization(org: Organization) -> dict[str, Any]:
    """`GET /organizations/{id}`'s `data`."""
    return {
        "id": org.id,
        "name": org.name,
        "website_url": org.website_url,
        "webhook_url": org.webhook_url,
        "contact_email": org.contact_email,
        "vanity_slug": org.vanity_slug,
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
    return {
        "id": token.id,
        "token": token.token,
        "owner_id": org.id,
        "description": token.description,
        "read_enabled": token.read_enabled,
        "write_enabled": token.write_enabled,
        "delete_enabled": token.delete_enabled,
        "created_at": iso_timestamp(token.created_at),
        "expires_at": iso_timestamp(token.expires_at),
        "owner": {
            "type": "Organization",
            "id": org.id,
            "name": org.name,
            "url": org_api_url(org.id),
        },
    }


def render_template(template: BadgeTemplate, owner: Organization | None) -> dict[str, Any]:
    """A badge template as embedded in a badge; `skills` exactly as stored."""
    owner_entity = render_entity(template.owner_org_id, owner)
    owner_slug = owner_entity["vanity_url"].rsplit("/", 1)[-1]
    created = iso_timestamp(template.created_at)
    return {
        "id": template.id,
        "name": template.name,
        "description": template.description,
        "state": template.state,
        "public": True,
        "visibility": "public",
        "level": template.level,
        "type_category": template.type_category,
        "time_to_earn": template.time_to_earn,
        "cost": None,
        "certification": template.certification,
        "allow_duplicate_badges": template.allow_duplicate_badges,
        "recipient_type": "User",
        "vanity_slug": template.vanity_slug,
        "global_activity_url": None,
        "criteria_url": None,
        "criteria_url_name": None,
        "image": image(template.image_id),
        "image_url": image(template.image_id)["url"],
        "url": f"{WEB_URL}/org/{owner_slug}/badge/{template.vanity_slug}",
        "owner": {
            **owner_entity,
            "vanity_slug": owner_slug,
            "viewable": True,
        },
        "skills": list(template.skills),
        "alignments": [
            {
                "id": derived_id("alignment", template.id),
                "name": f"{template.name} framework",
                "url": "https://www.example.com/alignment",
                "description": f"Aligned with the {template.name} competency framework",
            }
        ],
        "badge_template_activities": [
            {
                "id": derived_id("activity", template.id),
                "title": f"Complete {template.name}",
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
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "middle_name": None,
        "last_name": user.last_name,
        "current_position_name": None,
        "current_organization_name": None,
        "confirmed": user.confirmed,
        "photo": None,
        "photo_url": None,
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
    """Renders issued badges, caching the template and organisation parts they share.

    A cached part is reused while the store holds the same record object for it; replacing
    a template or organisation through `CredlyData` re-renders it on next use.
    """

    def __init__(self, data: CredlyData) -> None:
        """Render records of `data`, with nothing cached yet."""
        self.data = data
        self._templates: dict[str, tuple[BadgeTemplate, Organization | None, dict[str, Any]]] = {}
        self._entities: dict[str, tuple[Organization | None, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def template(self, template_id: str) -> dict[str, Any] | None:
        """The rendered template, or None when the store does not know it."""
        template = self.data.templates.get(template_id)
        if template is None:
            return None
        owner = self.data.orgs.get(template.owner_org_id)
        cached = self._templates.get(template_id)
        if cached is not None and cached[0] is template and cached[1] is owner:
            return cached[2]
        rendered = render_template(template, owner)
        with self._lock:
            self._templates[template_id] = (template, owner, rendered)
        return rendered

    def entity(self, org_id: str) -> dict[str, Any]:
        """The rendered entity of an organisation (a placeholder when unknown)."""
        org = self.data.orgs.get(org_id)
        cached = self._entities.get(org_id)
        if cached is not None and cached[0] is org:
            return cached[1]
        rendered = render_entity(org_id, org)
        with self._lock:
            self._entities[org_id] = (org, rendered)
        return rendered

    def badge(self, badge: IssuedBadge) -> dict[str, Any]:
        """The full issued-badge JSON, with `badge.overrides` merged over it."""
        template = self.template(badge.template_id)
        user = self.data.users.get(badge.user_id) if badge.user_id is not None else None
        issuer_ids = badge.issuer_org_ids or (badge.org_id,)
        entities = [self.entity(org_id) for org_id in issuer_ids]
        image_id = template["image"]["id"] if template else derived_id("badge-image", badge.id)
        badge_image = image(image_id)
        names = (badge.issued_to_first_name, badge.issued_to_last_name)
        rendered: dict[str, Any] = {
            "id": badge.id,
            "state": badge.state,
            "public": badge.public,
            "locale": badge.locale,
            "recipient_email": badge.recipient_email,
            "issued_to": " ".join(n for n in names if n),
            "issued_to_first_name": badge.issued_to_first_name,
            "issued_to_middle_name": None,
            "issued_to_last_name": badge.issued_to_last_name,
            "issuer_earner_id": badge.issuer_earner_id,
            "issued_at": iso_timestamp(badge.issued_at),
            "issued_at_date": iso_date(badge.issued_at),
            "expires_at": iso_timestamp(badge.expires_at),
            "expires_at_date": iso_date(badge.expires_at),
            "created_at": iso_timestamp(badge.created_at),
            "updated_at": iso_timestamp(badge.updated_at),
            "state_updated_at": iso_timestamp(badge.state_updated_at),
            "accepted_at": iso_timestamp(badge.accepted_at),
            "replaces_badge_id": badge.replaces_badge_id,
            "replacement_badge_id": badge.replacement_badge_id,
            "revocation_reason": badge.revocation_reason,
            "suppress_badge_notification_email": False,
            "country": None,
            "country_code": None,
            "state_or_province": None,
            "printing_enabled": False,
            "print_method": None,
            "image": badge_image,
            "image_url": badge_image["url"],
            "badge_url": f"{WEB_URL}/badges/{badge.id}",
            "user": render_user(user) if user is not None else None,
            "created_by": self.entity(badge.org_id),
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
        if badge.overrides:
            rendered.update(badge.overrides)
        return rendered
