"""Why is a badge missing? The diagnosis of one recipient email, decided fresh."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from credly_connector.ops.answers import Answer, problem
from credly_connector.pipeline.context import CrawlContext
from credly_connector.rules import reasons
from credly_connector.rules.badges import Badge
from credly_connector.rules.eligibility import BadgeDecision, decide_badges
from credly_connector.rules.identity import (
    MAX_EMAIL_LENGTH,
    DirectoryIndex,
    Resolution,
    normalize_email,
)
from credly_connector.rules.text import strip_controls
from credly_connector.stores.overrides import OverrideRecord
from credly_connector.stores.recipients import RecipientRecord
from credly_connector.stores.tables import to_iso

_SHOWN_INPUT = 80
# RFC 5322 allows these in a local part, but real Entra and Exchange addresses almost never
# hold them, while in a route argument they are the marks of (encoded) path traversal.
_PATH_CHARACTERS = frozenset("/\\%?#")


def parse_email(raw: str) -> str | Answer:
    """The normalised email of a route or command argument, or the 400 answer saying why not."""
    if not raw.strip():
        return problem(400, "An email address is required, e.g. adele.vance@contoso.com.")
    if len(raw) > MAX_EMAIL_LENGTH:
        return problem(400, f"The email is {len(raw)} characters long; an address has at most 254.")
    shown = strip_controls(raw)[:_SHOWN_INPUT]
    path_like = sorted(set(raw) & _PATH_CHARACTERS)
    if path_like:
        return problem(
            400,
            f"{shown!r} is not an email address the connector accepts: it holds "
            f"{' '.join(path_like)}, which mean something in paths and URLs.",
        )
    email = normalize_email(raw)
    if email is None:
        return problem(
            400,
            f"{shown!r} is not an email address: one @ between a local part and a domain "
            "such as contoso.com, without spaces, path segments or empty labels.",
        )
    return email


def current_index(ctx: CrawlContext) -> DirectoryIndex:
    """The identity index of the stored directory snapshot and the stored overrides."""
    return ctx.directory_index(ctx.directory.state().version)


def resolution_json(
    index: DirectoryIndex, resolution: Resolution, override: OverrideRecord | None
) -> dict[str, Any]:
    """Who an email resolves to, by which attribute, and what stops their badges if anything."""
    user = resolution.user
    if user is not None:
        status = "matched"
    elif resolution.reason == reasons.AMBIGUOUS_EMAIL:
        status = "ambiguous"
    else:
        status = "unmatched"
    fix = reasons.REASON_FIXES.get(resolution.reason or "")
    if override is not None and user is None and not resolution.candidates:
        fix = (
            f"The override maps this email to {override.user_principal_name}, which is not in "
            "the directory snapshot: correct or delete the override (or run a crawl if the user "
            "was created recently)."
        )
    candidates = []
    for user_id in resolution.candidates:
        candidate = index.user(user_id)
        upn = candidate.user_principal_name if candidate else ""
        candidates.append({"id": user_id, "userPrincipalName": upn})
    return {
        "status": status,
        "attribute": resolution.method,
        "user": None
        if user is None
        else {
            "id": user.id,
            "userPrincipalName": user.user_principal_name,
            "enabled": user.account_enabled,
            "licensed": user.licensed,
        },
        "candidates": candidates,
        "canHoldBadges": resolution.reason is None,
        "reason": resolution.reason,
        "fix": fix,
        "override": override.to_json() if override else None,
    }


def decision_status(decision: BadgeDecision) -> str:
    """`included`, or the reason the badge is not on the profile."""
    return "included" if decision.included else decision.reason or "excluded"


def _badge_json(
    badge: Badge,
    decision: BadgeDecision,
    stored: RecipientRecord | None,
    on_item: frozenset[str],
) -> dict[str, Any]:
    last: dict[str, Any] | None = None
    changes = True
    if stored is not None and badge.id in stored.decisions:
        stored_reason = stored.decisions[badge.id]
        last = {
            "included": stored_reason is None,
            "reason": stored_reason,
            "decidedAt": to_iso(stored.decided_at) or None,
            "origin": stored.crawl_id or None,
        }
        changes = stored_reason != decision.reason
    return {
        "id": badge.id,
        "organizationId": badge.organization_id,
        "templateId": badge.template_id,
        "templateName": badge.template_name,
        "issuer": badge.issuing_authority,
        "issuedAt": to_iso(badge.issued_at),
        "expiresAt": to_iso(badge.expires_at) or None,
        "state": badge.state,
        "public": badge.public,
        "replacementBadgeId": badge.replacement_badge_id,
        "status": decision_status(decision),
        "included": decision.included,
        "reason": decision.reason,
        "fix": reasons.REASON_FIXES.get(decision.reason or ""),
        "onProfile": badge.id in on_item,
        "lastDecision": last,
        "willChangeAtNextCrawl": changes,
    }


def _badges_of(
    ctx: CrawlContext, index: DirectoryIndex, email: str, now: datetime, on_item: frozenset[str]
) -> list[dict[str, Any]]:
    badges = sorted(ctx.badges.badges_of(email), key=lambda b: (b.issued_at, b.id), reverse=True)
    decisions = decide_badges(
        index.resolve(email), badges, now=now, include_expired=ctx.options.include_expired
    )
    stored = ctx.recipients.get(email) if badges else None
    return [
        _badge_json(badge, decision, stored, on_item)
        for badge, decision in zip(badges, decisions, strict=True)
    ]


def diagnose_person(ctx: CrawlContext, raw_email: str) -> Answer:
    """`GET ops/people/{email}`: whom an email resolves to and why each badge is shown or not.

    Decisions are computed now against the stored directory snapshot and overrides; each
    badge also shows the decision stored by the last crawl (or recompose) and whether it will
    change at the next one. 400 for a malformed email; 404 when no badge is known for it
    (nor for the other addresses of the user it resolves to).
    """
    email = parse_email(raw_email)
    if isinstance(email, Answer):
        return email
    index = current_index(ctx)
    now = ctx.clock()
    resolution = index.resolve(email)
    shown = resolution_json(index, resolution, ctx.identity_overrides.get(email))
    user = resolution.user
    person = ctx.people.get(user.id) if user is not None else None
    on_item = frozenset(person.badge_ids) if person else frozenset()
    badges = _badges_of(ctx, index, email, now, on_item)
    others: list[dict[str, Any]] = []
    if user is not None:
        for address in sorted(index.emails_of(user.id) - {email}):
            others.append(
                {
                    "email": address,
                    "attribute": index.resolve(address).method,
                    "badges": _badges_of(ctx, index, address, now, on_item),
                }
            )
    known = len(badges) + sum(len(other["badges"]) for other in others)
    crawls = _last_crawls(ctx)
    if not known:
        return problem(
            404,
            _unknown_message(email, user is not None, crawls, ctx.options.organizations),
            resolution=shown,
            crawls=crawls,
        )
    body = {
        "email": email,
        "resolution": shown,
        "badges": badges,
        "otherAddresses": others,
        "lastWrite": None
        if person is None
        else {
            "writtenAt": to_iso(person.written_at),
            "origin": person.crawl_id,
            "itemId": person.item_id,
            "userPrincipalName": person.user_principal_name,
            "badgeIds": list(person.badge_ids),
        },
        "crawls": crawls,
        "directoryUsers": len(index),
        "notes": _notes(shown, [*badges, *(b for o in others for b in o["badges"])], crawls),
    }
    return Answer(200, body)


def _last_crawls(ctx: CrawlContext) -> list[dict[str, Any]]:
    """The last successful crawl of each configured organisation."""
    shown = []
    for organization_id in ctx.options.organizations:
        state = ctx.orgstate.get(organization_id)
        shown.append(
            {
                "organizationId": organization_id,
                "lastSuccessAt": to_iso(state.last_success_at) or None,
                "lastFullSuccess": to_iso(state.last_full_success) or None,
            }
        )
    return shown


def _unknown_message(
    email: str, matched: bool, crawls: list[dict[str, Any]], organizations: Iterable[str]
) -> str:
    where = " nor for the other addresses of the Entra user it matches" if matched else ""
    message = (
        f"No badge is known for {email}{where}. Check the spelling and whether the person's "
        "Credly account uses another address (a personal address can be mapped to the user "
        "with an identity override), and that the badge was issued by a configured Credly "
        f"organisation ({', '.join(organizations)})."
    )
    if not any(c["lastSuccessAt"] for c in crawls):
        message += " No crawl has completed yet: badges are known only after the first crawl."
    return message


def _notes(
    resolution: dict[str, Any], badges: list[dict[str, Any]], crawls: list[dict[str, Any]]
) -> list[str]:
    """The diagnosis in a few sentences, in the order of the vendor's troubleshooting table."""
    notes = []
    if resolution["reason"]:
        notes.append(f"Identity: {resolution['reason']}. {resolution['fix']}")
    included = sum(1 for badge in badges if badge["included"])
    notes.append(f"{included} of {len(badges)} badge(s) belong on the profile.")
    for reason in sorted({b["reason"] for b in badges if b["reason"]} - {resolution["reason"]}):
        count = sum(1 for b in badges if b["reason"] == reason)
        notes.append(f"{count} badge(s) {reason}: {reasons.REASON_FIXES[reason]}")
    changing = sum(1 for badge in badges if badge["willChangeAtNextCrawl"])
    if changing:
        notes.append(
            f"{changing} decision(s) differ from those of the last crawl (the directory, an "
            "override, an expiry or the badge changed since); the profile follows at the next "
            "crawl."
        )
    if not any(c["lastSuccessAt"] for c in crawls):
        notes.append(
            "No crawl has completed yet: profiles are written by the first crawl "
            "(`python -m credly_connector crawl --kind full`)."
        )
    return notes
