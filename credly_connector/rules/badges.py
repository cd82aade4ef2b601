"""The normalised issued badge, and the parser that turns untrusted Credly JSON into one."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from credly_connector.errors import BadDataError
from credly_connector.rules import badge_fields as read
from credly_connector.rules import reasons
from credly_connector.rules.badge_fields import MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_STATE_LENGTH
from credly_connector.rules.dates import EARLIEST_DATE, LATEST_DATE, is_plausible, parse_timestamp
from credly_connector.rules.identity import normalize_email
from credly_connector.rules.text import clean_text

MAX_SHOWN_EMAIL = 320

# Badge ids become Table Storage keys and URL path segments: keep them to a safe alphabet.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]+")


@dataclass(frozen=True, slots=True)
class Badge:
    """One issued badge, normalised: bounded plain text, lower-case email, UTC datetimes.

    Attributes:
        id: The Credly badge id.
        organization_id: The Credly organisation the badge was read from.
        recipient_email: The address the badge was issued to (trimmed, lower-case).
        state: `pending`, `accepted`, `rejected`, `revoked`, `replaced`... (lower-case).
        public: False when the earner made the badge private.
        issued_at: When the badge was issued (UTC).
        expires_at: When it expires, or None for never.
        created_at: When Credly created the record, if known.
        updated_at: When Credly last changed the record, if known.
        replacement_badge_id: The badge replacing this one, if any.
        template_id: The badge template's id.
        template_name: The template's name as plain text (at most 500 characters).
        description: The template description as plain text (at most 2,000 characters).
        certification: Whether the template is a certification rather than an award.
        issuing_authority: The primary issuer's name as plain text, else the template
            owner's, or "" when neither names one.
        image_url: The badge image (http or https), or None.
        skills: The template's skills as plain text, distinct ignoring case, in template order.
    """

    id: str
    organization_id: str
    recipient_email: str
    state: str
    public: bool
    issued_at: datetime
    expires_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    replacement_badge_id: str | None
    template_id: str
    template_name: str
    description: str
    certification: bool
    issuing_authority: str
    image_url: str | None
    skills: tuple[str, ...]

    def to_record(self) -> dict[str, Any]:
        """The badge as a JSON-safe dict (datetimes as UTC ISO strings, skills as a list)."""
        record: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            record[f.name] = value
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Badge:
        """Rebuild a badge from `to_record`'s output.

        Args:
            record: A dict produced by `to_record` (possibly after a JSON round trip).

        Returns:
            The equal badge.

        Raises:
            ValueError: When a field is missing or of the wrong type.
        """
        try:
            values = {f.name: record[f.name] for f in fields(cls)}
        except KeyError as missing:
            raise ValueError(f"badge record lacks {missing}") from None
        for name in ("issued_at", "expires_at", "created_at", "updated_at"):
            text = values[name]
            if text is None and name != "issued_at":
                continue
            if not isinstance(text, str):
                raise ValueError(f"badge record field {name} is not an ISO string")
            values[name] = datetime.fromisoformat(text)
        if not isinstance(values["skills"], list | tuple):
            raise ValueError("badge record field skills is not a list")
        values["skills"] = tuple(values["skills"])
        return cls(**values)

    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of every field: equal badges, equal hashes."""
        return canonical_hash(self.to_record())


@dataclass(frozen=True, slots=True)
class SkippedBadge:
    """A badge the parser could not use, with the reason and a human-readable detail.

    Attributes:
        badge_id: The badge id, when one could be read.
        recipient_email: The recipient email (normalised when valid, else as found), if any.
        reason: One of `reasons.PARSE_REASONS`.
        detail: What exactly was wrong, for the admin report.
    """

    badge_id: str | None
    recipient_email: str | None
    reason: str
    detail: str


def canonical_hash(value: Any) -> str:
    """SHA-256 (hex) of `value` as canonical JSON (sorted keys, no whitespace, UTF-8)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_badge(raw: Any, *, organization_id: str) -> Badge | SkippedBadge:
    """Normalise one issued badge from Credly's JSON; never raises.

    Fields that decide eligibility, identity or keys are strict (a wrong type skips the badge);
    descriptive fields are lenient (a wrong type reads as absent). Unknown fields are ignored.

    Args:
        raw: One element of a badge listing's `data` (any JSON value).
        organization_id: The organisation the badge was read from.

    Returns:
        The badge, or a `SkippedBadge` saying why it cannot be used.
    """
    if not isinstance(raw, Mapping):
        return SkippedBadge(None, None, reasons.INVALID_BADGE, "badge is not a JSON object")
    badge_id, id_problem = _badge_id(raw.get("id"))
    raw_email = raw.get("recipient_email")
    email = normalize_email(raw_email)
    shown_email = email or _shown(raw_email)
    if badge_id is None:
        return SkippedBadge(None, shown_email, reasons.INVALID_BADGE, id_problem)
    try:
        badge = _build(raw, badge_id, email or "", organization_id)
    except BadDataError as problem:
        return SkippedBadge(badge_id, shown_email, problem.reason, str(problem))
    if email is None:
        detail = "recipient_email missing" if raw_email is None else "recipient_email invalid"
        return SkippedBadge(badge_id, shown_email, reasons.INVALID_EMAIL, detail)
    return badge


def _badge_id(value: object) -> tuple[str | None, str]:
    """The badge id, or None and what is wrong with it."""
    if value is None:
        return None, "id missing"
    if not isinstance(value, str):
        return None, "id is not a string"
    text = value.strip()
    if not text:
        return None, "id is blank"
    if len(text) > MAX_ID_LENGTH or not _SAFE_ID.fullmatch(text):
        return None, "id is too long or has characters other than letters, digits and . _ : -"
    return text, ""


def _shown(raw_email: object) -> str | None:
    """An unusable recipient email as the admin report may show it."""
    if not isinstance(raw_email, str):
        return None
    return clean_text(raw_email, limit=MAX_SHOWN_EMAIL) or None


def _build(raw: Mapping[str, Any], badge_id: str, email: str, organization_id: str) -> Badge:
    template = raw.get("badge_template")
    if not isinstance(template, Mapping):
        raise read.invalid("badge_template missing")
    template_id = read.required_text(template.get("id"), "badge_template.id", MAX_ID_LENGTH)
    template_name = read.required_text(
        template.get("name"), "badge_template.name", MAX_NAME_LENGTH, prose=True
    )
    state = read.required_text(raw.get("state"), "state", MAX_STATE_LENGTH).lower()
    public = raw.get("public")
    if not isinstance(public, bool):
        raise read.invalid("public missing or not a boolean")
    issued_at = parse_timestamp(raw.get("issued_at"))
    if issued_at is None:
        raise read.invalid("issued_at missing or not an ISO-8601 timestamp")
    expires_at = read.expiry(raw.get("expires_at"))
    for name, moment in (("issued_at", issued_at), ("expires_at", expires_at)):
        if moment is not None and not is_plausible(moment):
            raise BadDataError(
                reasons.INVALID_DATE,
                f"{name} {moment.date().isoformat()} is outside "
                f"{EARLIEST_DATE.year}-{LATEST_DATE.year - 1}",
            )
    return Badge(
        id=badge_id,
        organization_id=organization_id,
        recipient_email=email,
        state=state,
        public=public,
        issued_at=issued_at,
        expires_at=expires_at,
        created_at=read.record_time(raw.get("created_at")),
        updated_at=read.record_time(raw.get("updated_at")),
        replacement_badge_id=read.replacement(raw.get("replacement_badge_id")),
        template_id=template_id,
        template_name=template_name,
        description=read.description(template.get("description")),
        certification=read.is_certification(template),
        issuing_authority=read.issuing_authority(raw.get("issuer"), template.get("owner")),
        image_url=read.image_url(raw),
        skills=read.skills(template.get("skills")),
    )
