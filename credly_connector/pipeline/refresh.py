"""Refreshing one badge in the badge store from Credly's current answer (webhook events).

Whatever an event claims, the badge is read again, so the latest state wins and a replayed
or late event finds nothing to change. Planning is pure; applying writes the badge and the
expiry index in an order a retry can repeat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from credly_connector.credly.errors import CredlyNotFoundError
from credly_connector.errors import RetryableError
from credly_connector.pipeline.context import CrawlContext
from credly_connector.rules.badges import Badge, parse_badge
from credly_connector.stores.badges import BadgeKey, Change

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshPlan:
    """What the badge store needs so it holds Credly's current state of one badge.

    Attributes:
        write: The current badge, when its row is missing or differs.
        remove: Stored rows to delete: all of them when the badge is gone, else those under
            another recipient email (Credly moved the badge).
        stale: Credly answered a state older than the stored one (a later event already
            won); nothing is changed.
    """

    write: Badge | None = None
    remove: tuple[Badge, ...] = ()
    stale: bool = False

    @property
    def emails(self) -> set[str]:
        """Recipients whose badges change, so their people must be recomposed."""
        emails = {badge.recipient_email for badge in self.remove}
        if self.write is not None:
            emails.add(self.write.recipient_email)
        return emails

    @property
    def changes(self) -> bool:
        """Whether applying the plan writes anything."""
        return self.write is not None or bool(self.remove)


def plan_refresh(stored: list[Badge], current: Badge | None) -> RefreshPlan:
    """Compare the stored rows of one badge with Credly's current state of it.

    Args:
        stored: Every stored row of the badge id (any recipient email).
        current: The badge as Credly shows it now; None when Credly no longer has it (or it
            cannot be used, as a full crawl would then sweep it).
    """
    if current is None:
        return RefreshPlan(remove=tuple(stored))
    newest = max((b.updated_at for b in stored if b.updated_at is not None), default=None)
    if newest is not None and current.updated_at is not None and current.updated_at < newest:
        return RefreshPlan(stale=True)
    same = next((b for b in stored if b.recipient_email == current.recipient_email), None)
    unchanged = same is not None and same.content_hash() == current.content_hash()
    return RefreshPlan(
        write=None if unchanged else current,
        remove=tuple(b for b in stored if b.recipient_email != current.recipient_email),
    )


def read_current(ctx: CrawlContext, organization_id: str, badge_id: str) -> Badge | None:
    """The badge as Credly shows it now, or None when it is gone or unusable.

    Raises:
        ConnectorError: Credly could not be read (retryable or configuration); the event is
            retried rather than taken for a deletion.
    """
    try:
        raw = ctx.credly_for(organization_id).badge(badge_id)
    except CredlyNotFoundError:
        return None
    parsed = parse_badge(raw, organization_id=organization_id)
    if not isinstance(parsed, Badge):
        log.info("badge %s can no longer be used: %s (%s)", badge_id, parsed.reason, parsed.detail)
        return None
    if parsed.id != badge_id:
        # Never taken for a deletion: retried, then left to the next crawl.
        msg = f"Credly answered badge {parsed.id} when asked for {badge_id}"
        raise RetryableError(msg, status=200)
    return parsed


def stored_rows(ctx: CrawlContext, organization_id: str, badge_id: str) -> list[Badge]:
    """The stored rows of a badge id that belong to the organisation."""
    return ctx.badges.find(badge_id, organization_id)


def apply_refresh(ctx: CrawlContext, plan: RefreshPlan) -> None:
    """Write the plan (idempotent): the replaced rows go first, then the current row.

    In this order a moved badge keeps its expiry index entry, which is keyed by day and
    badge id only: forgetting the old row's entry after tracking the new one would drop it.
    """
    for badge in plan.remove:
        ctx.expiries.forget(badge)
        ctx.badges.delete(BadgeKey.of(badge))
    if plan.write is not None:
        outcome = ctx.badges.compare(plan.write)
        if outcome.change is not Change.UNCHANGED:
            # The index first: once the row is written, a redelivery finds it unchanged.
            ctx.expiries.track(plan.write, outcome.previous)
            ctx.badges.write_many([plan.write])
