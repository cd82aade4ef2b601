"""An independent reading of the product's rules: the items a crawl must leave in Graph.

It starts from the badge JSON the Credly stand-in serves and the stand-in's directory, and
shares no code with the connector, so a mistake in the connector's rules shows up as a
difference instead of being repeated here.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from devstack.credly.render import BadgeRenderer
from devstack.synthetic import World


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in {"script", "style"}:
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def plain(text: str) -> str:
    parser = _Text()
    parser.feed(text or "")
    parser.close()
    joined = html.unescape(" ".join(parser.parts))
    joined = "".join(c if c.isprintable() or c.isspace() else " " for c in joined)
    return re.sub(r"\s+", " ", joined).strip()[:2000].rstrip()


def _when(value: str | None) -> datetime | None:
    return None if not value else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _addresses(user: Any) -> set[str]:
    found = {user.user_principal_name.strip().lower()}
    if user.mail:
        found.add(user.mail.strip().lower())
    for proxy in user.proxy_addresses:
        if proxy.lower().startswith("smtp:"):
            found.add(proxy[5:].strip().lower())
    return found


def expected_items(
    world: World,
    *,
    now: datetime,
    web_url: str,
    index_skills: bool = False,
    organizations: tuple[str, ...] | None = None,
) -> dict[str, dict[str, Any]]:
    """Item id -> the item Graph must hold for the world as it is now.

    Args:
        organizations: The organisations the connector reads (all of the world's by default).
    """
    owners: dict[str, set[str]] = {}
    users = {u.id: u for u in world.directory.users()}
    for user in users.values():
        for address in _addresses(user):
            owners.setdefault(address, set()).add(user.id)
    renderer = BadgeRenderer(world.credly)
    per_user: dict[str, list[dict[str, Any]]] = {}
    records = [
        record
        for org in (world.org_ids if organizations is None else organizations)
        for record in world.credly.badges.get(org, {}).values()
    ]
    for record in records:
        badge = renderer.badge(record)
        if badge["state"] != "accepted" or badge["public"] is not True:
            continue
        expires = _when(badge.get("expires_at"))
        if expires is not None and expires <= now:
            continue
        email = str(badge["recipient_email"]).strip().lower()
        matched = owners.get(email, set())
        if len(matched) != 1:
            continue
        user = users[next(iter(matched))]
        if not user.account_enabled or not user.assigned_licenses:
            continue
        per_user.setdefault(user.id, []).append(badge)
    return {
        uid.replace("-", ""): _item(users[uid], badges, web_url, index_skills)
        for uid, badges in per_user.items()
    }


def _item(
    user: Any, badges: list[dict[str, Any]], web_url: str, index_skills: bool
) -> dict[str, Any]:
    certifications: list[tuple[str, str, dict[str, Any]]] = []
    awards: list[tuple[str, str, dict[str, Any]]] = []
    skills: dict[str, str] = {}
    for badge in badges:
        template = badge["badge_template"]
        entities = badge["issuer"]["entities"]
        primary = next((e for e in entities if e.get("primary")), entities[0])
        authority = primary["entity"]["name"]
        issued = badge["issued_at"][:10]
        entry: dict[str, Any] = {
            "displayName": template["name"],
            "issuedDate": issued,
            "issuingAuthority": authority,
            "thumbnailUrl": badge["image_url"],
            "webUrl": f"{web_url}/badges/{badge['id']}",
        }
        description = plain(template.get("description") or "")
        if description:
            entry["description"] = description
        certification = (
            template.get("certification") is True
            or str(template.get("type_category") or "").lower() == "certification"
        )
        if certification:
            entry["certificationId"] = badge["id"]
            entry["issuingCompany"] = authority
            if badge.get("expires_at"):
                entry["endDate"] = badge["expires_at"][:10]
            certifications.append((issued, badge["id"], entry))
        else:
            awards.append((issued, badge["id"], entry))
        for skill in template.get("skills") or []:
            name = skill if isinstance(skill, str) else skill.get("name")
            if name and name.strip():
                skills.setdefault(name.strip().lower(), name.strip())

    def ordered(entries: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
        entries.sort(key=lambda e: e[1])
        entries.sort(key=lambda e: e[0], reverse=True)
        return [e[2] for e in entries]

    return {
        "id": user.id.replace("-", ""),
        "account": {"userPrincipalName": user.user_principal_name},
        "certifications": ordered(certifications),
        "awards": ordered(awards),
        "skills": sorted(skills.values(), key=str.lower) if index_skills else [],
    }


def stored_items(graph: Any, connection_id: str) -> dict[str, dict[str, Any]]:
    """The items the Graph stand-in holds, decoded into the oracle's shape."""
    found: dict[str, dict[str, Any]] = {}
    for item_id, item in graph.state.connectors.items(connection_id).items():
        props = item["properties"]
        found[item_id] = {
            "id": item_id,
            "account": json.loads(props["accountInformation"]),
            "certifications": [json.loads(v) for v in props.get("certifications", [])],
            "awards": [json.loads(v) for v in props.get("awards", [])],
            "skills": [json.loads(v)["displayName"] for v in props.get("skills", [])],
        }
        # Graph's acl resource: an `everyone` entry's value is the tenant id.
        assert item["acl"] == [
            {"type": "everyone", "value": graph.tenant_id, "accessType": "grant"}
        ]
    return found


def now_utc() -> datetime:
    return datetime.now(UTC)
