"""One person's item decided from the stores, before any Graph call: the person planner.

Shared by the profile stage (crawl batches) and recomposes (webhooks, overrides). A person's
row is read before their badges: the plan carries that row's ETag, which the record of its
write is conditional on (`pipeline/person_writes.py`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from credly_connector.pipeline.batch_source import BatchSource
from credly_connector.rules.badges import Badge
from credly_connector.rules.eligibility import decide_badges
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.rules.items import compose_item_report
from credly_connector.stores.people import PersonRecord
from credly_connector.stores.recipients import RecipientRecord


class PersonAction(StrEnum):
    """What a plan does to the person's item in Graph."""

    PUT = "put"
    DELETE = "delete"
    KEEP = "keep"


@dataclass
class PersonPlan:
    """What to do for one user, decided from the stores before touching Graph.

    Attributes:
        user_id: The user the plan is for.
        action: Put the item, delete it, or keep what Graph holds.
        item: The item to put (PUT only).
        content_hash: The item's hash (PUT only).
        user_principal_name: The user's UPN, as recorded with the item.
        badge_ids: The badges the item shows.
        recipients: The decisions of the user's emails, recorded with the write.
        existed: Whether the user had an item when the row was read.
        reasons: Skipped badges per reason.
        previous: The user's row as read before composing (None: no item).
        etag: That row's ETag, which the record of this plan is conditional on (None: there
            was no row, and the record creates it).
    """

    user_id: str
    action: PersonAction
    item: dict[str, object] | None = None
    content_hash: str = ""
    user_principal_name: str = ""
    badge_ids: tuple[str, ...] = ()
    recipients: list[RecipientRecord] = field(default_factory=list)
    existed: bool = False
    reasons: Counter[str] = field(default_factory=Counter)
    previous: PersonRecord | None = None
    etag: str | None = None


def prepare_person(
    source: BatchSource,
    index: DirectoryIndex,
    user_id: str,
    now: datetime,
    *,
    rewrite: bool = False,
) -> PersonPlan:
    """Decide one user's item from the stores, read through `source` (no Graph call).

    The user's row is read first, then their badges: a write recorded against that row
    then proves that nobody recorded another write since the badges were read.

    Args:
        source: Where the batch reads people and badges.
        index: The directory snapshot emails resolve in.
        user_id: The user.
        now: When the decisions are made (expiry is judged against it).
        rewrite: Write the item (or delete it) even when the row says Graph holds it: this
            writer wrote the user before, and Graph may hold that write, not the row's.

    Returns:
        The user's plan.
    """
    ctx = source.ctx
    version = source.person(user_id)
    person = version.record
    existed = person is not None
    gone = PersonAction.DELETE if existed or rewrite else PersonAction.KEEP
    user = index.user(user_id)
    if user is None:
        return PersonPlan(user_id, gone, existed=existed, previous=person, etag=version.etag)
    included: list[Badge] = []
    recipients: list[RecipientRecord] = []
    reasons: Counter[str] = Counter()
    stored = {email: source.badges_of(email) for email in sorted(index.emails_of(user_id))}
    for email, badges in latest_rows(stored).items():
        if not badges:
            continue
        resolution = index.resolve(email)
        decisions = decide_badges(
            resolution, badges, now=now, include_expired=ctx.options.include_expired
        )
        by_id = {b.id: b for b in badges}
        for decision in decisions:
            if decision.included:
                included.append(by_id[decision.badge_id])
            elif decision.reason:
                reasons[decision.reason] += 1
        recipients.append(
            RecipientRecord(
                email=email,
                user_id=resolution.user.id if resolution.user else None,
                method=resolution.method,
                reason=resolution.reason,
                decisions={d.badge_id: d.reason for d in decisions},
                decided_at=now,
            )
        )
    composed = compose_item_report(
        user,
        included,
        web_url=ctx.options.web_url,
        index_skills=ctx.options.index_skills,
        tenant_id=ctx.tenant_id(),
    )
    if composed is None:
        return PersonPlan(
            user_id,
            gone,
            recipients=recipients,
            existed=existed,
            reasons=reasons,
            previous=person,
            etag=version.etag,
        )
    unchanged = not rewrite and person is not None and person.content_hash == composed.content_hash
    return PersonPlan(
        user_id,
        PersonAction.KEEP if unchanged else PersonAction.PUT,
        item=composed.item,
        content_hash=composed.content_hash,
        user_principal_name=user.user_principal_name,
        badge_ids=tuple(sorted({b.id for b in included})),
        recipients=recipients,
        existed=existed,
        reasons=reasons,
        previous=person,
        etag=version.etag,
    )


def latest_rows(by_email: dict[str, list[Badge]]) -> dict[str, list[Badge]]:
    """Each badge id under one email only: the row Credly updated last (or the later email).

    Until a crawl or event removes it, a badge Credly moved between two addresses of one
    person has a row under each; the old one must not put stale content on the item.
    """
    chosen: dict[tuple[str, str], tuple[datetime, str]] = {}
    for email, badges in by_email.items():
        for badge in badges:
            key = (badge.organization_id, badge.id)
            rank = (badge.updated_at or badge.issued_at, email)
            if key not in chosen or rank > chosen[key]:
                chosen[key] = rank
    return {
        email: [b for b in badges if chosen[(b.organization_id, b.id)][1] == email]
        for email, badges in by_email.items()
    }


def explain_email(
    source: BatchSource, index: DirectoryIndex, email: str, now: datetime, crawl_id: str
) -> tuple[RecipientRecord, Counter[str]]:
    """Decisions for an email that resolves to no single user, and its skip reasons."""
    ctx = source.ctx
    badges = source.badges_of(email)
    resolution = index.resolve(email)
    decisions = decide_badges(
        resolution, badges, now=now, include_expired=ctx.options.include_expired
    )
    reasons = Counter(d.reason for d in decisions if d.reason)
    return (
        RecipientRecord(
            email=email,
            user_id=None,
            method=None,
            reason=resolution.reason,
            decisions={d.badge_id: d.reason for d in decisions},
            decided_at=now,
            crawl_id=crawl_id,
        ),
        reasons,
    )
