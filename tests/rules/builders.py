"""Plain-value builders shared by the rules tests: raw Credly badges, Badges, directory users."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from credly_connector.directory import DirectoryUser
from credly_connector.rules import Badge

ORG_ID = "20be75f6-1111-4c0e-9a96-60152ced3000"
NOW = datetime(2026, 11, 1, tzinfo=UTC)

RAW_BADGE: dict[str, Any] = {
    "id": "749daf6e-4dbc-4b47-b401-b7e0477e0284",
    "state": "accepted",
    "public": True,
    "locale": "en",
    "recipient_email": "User10001@Example.com",
    "issued_to": "Alfred Beaker Skiles",
    "issued_at": "2014-04-01T14:41:00.000Z",
    "issued_at_date": "2014-04-01",
    "expires_at": "2016-04-01T14:41:00.000Z",
    "created_at": "2014-04-01T14:41:00.000Z",
    "updated_at": "2014-04-02T10:00:00.000Z",
    "replaces_badge_id": None,
    "replacement_badge_id": None,
    "image": {"id": "5ef66a91", "url": "https://images.credly.com/images/5ef66a91/image.png"},
    "image_url": "https://images.credly.com/images/5ef66a91/badge.png",
    "issuer": {
        "summary": "issued by Organization 1",
        "entities": [
            {
                "label": "Issued by",
                "primary": True,
                "entity": {"type": "Organization", "id": ORG_ID, "name": "Organization 1"},
            }
        ],
    },
    "badge_template": {
        "id": "09d1ac8b-d097-4ae4-844a-a2ae01d1bdbe",
        "name": "Badge Template 1",
        "description": "Dynamically deliver <b>go forward</b> e-tailers",
        "type_category": None,
        "certification": True,
        "owner": {"type": "Organization", "id": ORG_ID, "name": "Owner Org"},
        "skills": ["Skill 1"],
    },
    "x_new_field": {"introduced": "later"},
}
"""Credly's documented issued-badge example, shortened (never mutate: use `make_raw_badge`)."""


def make_raw_badge(**changes: Any) -> dict[str, Any]:
    """A deep copy of `RAW_BADGE` with top-level keys changed (`None` values kept as null)."""
    raw = copy.deepcopy(RAW_BADGE)
    raw.update(changes)
    return raw


BASE_BADGE = Badge(
    id="b-0001",
    organization_id=ORG_ID,
    recipient_email="adele.vance@contoso.com",
    state="accepted",
    public=True,
    issued_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC),
    expires_at=None,
    created_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC),
    updated_at=datetime(2025, 3, 15, 9, 30, tzinfo=UTC),
    replacement_badge_id=None,
    template_id="tmpl-1",
    template_name="Azure Administrator Associate",
    description="Earners can administer Azure.",
    certification=True,
    issuing_authority="Microsoft",
    image_url="https://images.credly.com/images/abc/image.png",
    skills=("Azure", "Networking"),
)


def make_badge(**changes: Any) -> Badge:
    """`BASE_BADGE` with fields replaced."""
    return replace(BASE_BADGE, **changes)


def make_user(**changes: Any) -> DirectoryUser:
    """An enabled, licensed directory user with fields replaced."""
    user = DirectoryUser(
        id="6e2f0c1a-9b3d-4e5f-8a7b-6c5d4e3f2a1b",
        user_principal_name="adele.vance@contoso.com",
        mail="adele.vance@contoso.com",
    )
    return replace(user, **changes)
