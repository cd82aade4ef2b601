"""Composing one user's Graph people-data external item from their eligible badges."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import quote

from credly_connector.directory import DirectoryUser
from credly_connector.rules.badges import Badge, canonical_hash

MAX_ITEM_BYTES: Final = 4_000_000
"""Graph's 4 MB item limit, read as decimal megabytes to keep a margin."""
COLLECTION_TYPE: Final = "Collection(String)"
EVERYONE: Final = "everyone"
"""The bare `everyone` ACL value; Graph documents the tenant id as the value instead."""

PEOPLE_SCHEMA: Final[list[dict[str, Any]]] = [
    {"name": "accountInformation", "type": "string", "labels": ["personAccount"]},
    {"name": "certifications", "type": "stringCollection", "labels": ["personCertifications"]},
    {"name": "awards", "type": "stringCollection", "labels": ["personAwards"]},
    {"name": "skills", "type": "stringCollection", "labels": ["personSkills"]},
]
"""The connection schema's properties (treat as read-only)."""


@dataclass(frozen=True, slots=True)
class ComposedItem:
    """An external item with its hash, and how many badge entries the size limit cost.

    Attributes:
        item: The body of `PUT /external/connections/{id}/items/{item id}`.
        content_hash: `item_content_hash(item)`.
        dropped_entries: The oldest badge entries left out to stay within `MAX_ITEM_BYTES`.
    """

    item: dict[str, Any]
    content_hash: str
    dropped_entries: int


def item_id_for(user_id: str) -> str:
    """The external item id of a user: the Entra object id without dashes."""
    return user_id.replace("-", "")


def item_content_hash(item: dict[str, Any]) -> str:
    """SHA-256 (hex) of the item's canonical JSON: unchanged hash, no need to PUT again."""
    return canonical_hash(item)


def item_size(item: dict[str, Any]) -> int:
    """The item's size in bytes as `json.dumps` writes it by default.

    ASCII-escaped JSON with spaced separators is the largest form a client sends, so an item
    within the limit by this measure is within it however the transport encodes it.
    """
    return len(json.dumps(item))


def everyone_acl(tenant_id: str | None) -> list[dict[str, str]]:
    """The ACL granting everyone in the tenant access.

    Graph's `acl` resource takes the tenant id as the value of an `everyone` entry (None: the
    bare literal, for previews and tests).
    """
    return [{"type": "everyone", "value": tenant_id or EVERYONE, "accessType": "grant"}]


def compose_item_report(
    user: DirectoryUser,
    badges: Iterable[Badge],
    *,
    web_url: str,
    index_skills: bool,
    max_bytes: int = MAX_ITEM_BYTES,
    tenant_id: str | None = None,
) -> ComposedItem | None:
    """Compose a user's external item from their eligible badges.

    Certification badges go to `certifications`, the others to `awards`, newest first (then
    by badge id); a badge id given twice is composed once. When the item would exceed
    `max_bytes`, the oldest entries are left out.

    Args:
        user: The profile's directory user.
        badges: The user's eligible badges (the caller filters them).
        web_url: Credly's public site, e.g. `https://www.credly.com`.
        index_skills: Publish the badges' skills too.
        max_bytes: The size limit (`item_size`).
        tenant_id: The tenant id, the value of the `everyone` ACL entry Graph expects; every
            item written to Graph needs it (None leaves the bare literal `everyone`).

    Returns:
        The item with its hash and the number of dropped entries; None without badges.
    """
    unique: dict[str, Badge] = {}
    for badge in badges:
        unique.setdefault(badge.id, badge)
    if not unique:
        return None
    ordered = sorted(unique.values(), key=lambda b: (-_utc_date(b.issued_at).toordinal(), b.id))
    site = web_url.rstrip("/")
    entries = [(badge, _entry_json(badge, site)) for badge in ordered]

    def build(kept: int) -> dict[str, Any]:
        return _item(user, entries[:kept], index_skills=index_skills, tenant_id=tenant_id)

    kept = len(entries)
    item = build(kept)
    if item_size(item) > max_bytes:
        # Size grows with every entry kept (its skills only add), so bisect the count.
        low, high = 0, kept - 1
        while low < high:
            middle = (low + high + 1) // 2
            if item_size(build(middle)) <= max_bytes:
                low = middle
            else:
                high = middle - 1
        kept = low
        item = build(kept)
    return ComposedItem(item, item_content_hash(item), len(entries) - kept)


def _item(
    user: DirectoryUser,
    entries: list[tuple[Badge, str]],
    *,
    index_skills: bool,
    tenant_id: str | None,
) -> dict[str, Any]:
    account = _json({"userPrincipalName": user.user_principal_name})
    properties: dict[str, Any] = {"accountInformation": account}
    if not account.isascii():
        properties["accountInformation@odata.type"] = "String"
    skills = _skill_names(badge for badge, _ in entries) if index_skills else []
    collections = {
        "certifications": [text for badge, text in entries if badge.certification],
        "awards": [text for badge, text in entries if not badge.certification],
        "skills": [_json({"displayName": name}) for name in skills],
    }
    for name, values in collections.items():
        properties[f"{name}@odata.type"] = COLLECTION_TYPE
        properties[name] = values
    return {
        "id": item_id_for(user.id),
        "acl": everyone_acl(tenant_id),
        "properties": properties,
    }


def _entry_json(badge: Badge, site: str) -> str:
    """The `personCertification` or `personAward` of a badge, as the JSON string Graph wants."""
    entry: dict[str, str] = {
        "displayName": badge.template_name,
        "issuedDate": _utc_date(badge.issued_at).isoformat(),
        "webUrl": f"{site}/badges/{quote(badge.id, safe='')}",
    }
    # Neither the issuer nor the template owner named: left out, as Graph shows "" as a name.
    if badge.issuing_authority:
        entry["issuingAuthority"] = badge.issuing_authority
    if badge.description:
        entry["description"] = badge.description
    if badge.image_url is not None:
        entry["thumbnailUrl"] = badge.image_url
    if badge.certification:
        entry["certificationId"] = badge.id
        if badge.issuing_authority:
            entry["issuingCompany"] = badge.issuing_authority
        if badge.expires_at is not None:
            entry["endDate"] = _utc_date(badge.expires_at).isoformat()
    return _json(entry)


def _skill_names(badges: Iterable[Badge]) -> list[str]:
    """Distinct skill names ignoring case (first spelling kept), sorted ignoring case."""
    first_spelling: dict[str, str] = {}
    for badge in badges:
        for skill in badge.skills:
            first_spelling.setdefault(skill.casefold(), skill)
    return sorted(first_spelling.values(), key=lambda name: (name.casefold(), name))


def _utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _json(value: dict[str, str]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
