"""Reading the fields of Credly's badge JSON: strict where they decide, lenient where they describe.

A strict reader raises `BadDataError` (the badge is skipped with its reason); a lenient one
reads a wrong type as absent. Texts come out as bounded plain text, URLs only when usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from credly_connector.errors import BadDataError
from credly_connector.rules import reasons
from credly_connector.rules.dates import is_plausible, parse_timestamp
from credly_connector.rules.text import clean_text, plain_text, strip_controls

MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 2000
MAX_SKILL_LENGTH = 200
MAX_SKILLS = 100
MAX_URL_LENGTH = 2048
MAX_STATE_LENGTH = 64


def invalid(detail: str) -> BadDataError:
    """The error that skips a badge as invalid, saying what is wrong."""
    return BadDataError(reasons.INVALID_BADGE, detail)


def required_text(value: object, name: str, limit: int, *, prose: bool = False) -> str:
    """A text the badge needs (missing or blank skips it): `plain_text` when `prose`."""
    if not isinstance(value, str):
        raise invalid(f"{name} missing or not a string")
    text = plain_text(value, limit=limit) if prose else clean_text(value, limit=limit)
    if not text:
        raise invalid(f"{name} is blank")
    return text


def record_time(value: object) -> datetime | None:
    """Credly's bookkeeping times: unreadable or implausible ones read as unknown."""
    # A far-future updated_at would make every later version of the badge look stale.
    moment = parse_timestamp(value)
    return moment if moment is not None and is_plausible(moment) else None


def expiry(value: object) -> datetime | None:
    """When the badge expires, or None for never; an unreadable date skips the badge."""
    if value is None or value is False or value == "":
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise invalid("expires_at is not an ISO-8601 timestamp")
    return parsed


def replacement(value: object) -> str | None:
    """The id of the badge replacing this one, if any; a non-string skips the badge."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("replacement_badge_id is not a string")
    return clean_text(value, limit=MAX_ID_LENGTH) or None


def description(value: object) -> str:
    """The template description as bounded plain text, or ""."""
    return plain_text(value, limit=MAX_DESCRIPTION_LENGTH) if isinstance(value, str) else ""


def is_certification(template: Mapping[str, Any]) -> bool:
    """Whether the template is a certification rather than an award."""
    category = template.get("type_category")
    return template.get("certification") is True or (
        isinstance(category, str) and category.strip().casefold() == "certification"
    )


def issuing_authority(issuer: object, owner: object) -> str:
    """The primary issuer's name, else the first issuer's, else the template owner's, or ""."""
    entries = issuer.get("entities") if isinstance(issuer, Mapping) else None
    names: list[tuple[bool, str]] = []
    if isinstance(entries, list):
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            name = _name_of(entry.get("entity"))
            if name:
                names.append((entry.get("primary") is True, name))
    primary = next((name for is_primary, name in names if is_primary), None)
    if primary:
        return primary
    if names:
        return names[0][1]
    return _name_of(owner)


def _name_of(entity: object) -> str:
    if not isinstance(entity, Mapping):
        return ""
    name = entity.get("name")
    return plain_text(name, limit=MAX_NAME_LENGTH) if isinstance(name, str) else ""


def image_url(raw: Mapping[str, Any]) -> str | None:
    """The badge image, from `image_url` or `image.url`, when a usable http(s) URL."""
    image = raw.get("image")
    nested = image.get("url") if isinstance(image, Mapping) else None
    return _web_url(raw.get("image_url")) or _web_url(nested)


def _web_url(value: object) -> str | None:
    """An http(s) URL without spaces or controls that fits, else None (never a truncated URL)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if (
        len(url) > MAX_URL_LENGTH
        or not url.lower().startswith(("https://", "http://"))
        or strip_controls(url) != url
        or " " in url
    ):
        return None
    return url


def skills(value: object) -> tuple[str, ...]:
    """The template's skills as plain text, distinct ignoring case, at most `MAX_SKILLS`."""
    if not isinstance(value, list):
        return ()
    seen: set[str] = set()
    skills: list[str] = []
    for item in value:
        name = item.get("name") if isinstance(item, Mapping) else item
        if not isinstance(name, str):
            continue
        text = plain_text(name, limit=MAX_SKILL_LENGTH)
        key = text.casefold()
        if text and key not in seen:
            seen.add(key)
            skills.append(text)
            if len(skills) == MAX_SKILLS:
                break
    return tuple(skills)
