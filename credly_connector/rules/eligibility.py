"""Which badges go on a profile: the badge's own state first, then who its recipient is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from credly_connector.rules import reasons
from credly_connector.rules.badges import Badge
from credly_connector.rules.identity import Resolution

STATE_ACCEPTED = "accepted"
STATE_REVOKED = "revoked"
STATE_REPLACED = "replaced"


@dataclass(frozen=True, slots=True)
class BadgeDecision:
    """Whether one badge is on its recipient's profile, and why not when it is not.

    Attributes:
        badge_id: The badge id.
        recipient_email: The badge's recipient email.
        included: True when the badge goes on the profile.
        reason: A reason from `reasons` when not included, else None.
    """

    badge_id: str
    recipient_email: str
    included: bool
    reason: str | None


def badge_exclusion(badge: Badge, *, now: datetime, include_expired: bool) -> str | None:
    """Why a badge must stay off every profile, judging the badge alone.

    State reasons (`revoked`, `replaced`, `not_accepted`) win over `private`, which wins over
    `expired`. A badge with a `replacement_badge_id` counts as replaced whatever its state.

    Args:
        badge: The badge.
        now: The current time (timezone-aware).
        include_expired: Keep badges whose expiry has passed.

    Returns:
        The reason, or None when the badge is eligible.

    Raises:
        ValueError: When `now` is naive (it cannot be compared with badge times).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if badge.state == STATE_REVOKED:
        return reasons.REVOKED
    if badge.state == STATE_REPLACED or badge.replacement_badge_id:
        return reasons.REPLACED
    if badge.state != STATE_ACCEPTED:
        # pending, rejected and any state Credly may add later are all "not accepted".
        return reasons.NOT_ACCEPTED
    if not badge.public:
        return reasons.PRIVATE
    if not include_expired and badge.expires_at is not None and badge.expires_at <= now:
        return reasons.EXPIRED
    return None


def decide_badges(
    user_resolution: Resolution,
    badges: Iterable[Badge],
    *,
    now: datetime,
    include_expired: bool,
) -> list[BadgeDecision]:
    """Decide each badge of one recipient: badge reasons first, then the identity reason.

    Args:
        user_resolution: The recipient email's resolution (shared by all `badges`).
        badges: The badges issued to that email.
        now: The current time (timezone-aware).
        include_expired: Keep badges whose expiry has passed.

    Returns:
        One decision per badge, in input order.
    """
    decisions = []
    for badge in badges:
        reason = badge_exclusion(badge, now=now, include_expired=include_expired)
        if reason is None:
            reason = user_resolution.reason
        decisions.append(BadgeDecision(badge.id, badge.recipient_email, reason is None, reason))
    return decisions
