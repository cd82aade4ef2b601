"""The recipient-email index that answers email filters of large organisations quickly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from devstack.credly.filters import BadgeFilter
from devstack.credly.records import CredlyUser, IssuedBadge


@dataclass(frozen=True)
class EmailIndex:
    """An organisation's badges beside their lower-cased emails, and the earners' emails.

    Lower-casing 200,000 scattered addresses costs more than a page is allowed to, so the
    server builds this once per data version. Flat lists of strings, not a dict of lists:
    200,000 small lists would cost more in garbage-collector passes than they save.
    """

    badges: list[IssuedBadge]
    emails: list[str]
    holders: list[str | None]
    user_ids: list[str]
    user_emails: list[str]


def build_email_index(badges: Sequence[IssuedBadge], users: Mapping[str, CredlyUser]) -> EmailIndex:
    """Index badges (in their given order) by lower-cased recipient email."""
    user_ids = list(users)
    return EmailIndex(
        badges=list(badges),
        emails=[b.recipient_email.lower() for b in badges],
        holders=[b.user_id for b in badges],
        user_ids=user_ids,
        user_emails=[users[uid].email.lower() for uid in user_ids],
    )


def narrow_by_email(index: EmailIndex, badge_filter: BadgeFilter) -> list[IssuedBadge] | None:
    """The indexed badges the filter's email keys match, in order; None without such keys.

    The result holds exactly the badges the email keys match; `filter_badges` then applies
    every key to it.
    """
    wanted, every = badge_filter.recipient_emails, badge_filter.recipient_emails_all
    if wanted is None and every is None:
        return None
    holders: set[str | None] = set()
    if every is not None:
        users = zip(index.user_ids, index.user_emails, strict=True)
        holders = {uid for uid, email in users if email in every}
    # Only flat lists are touched per badge: reading attributes of 200,000 scattered
    # records is what makes the unindexed filter slow.
    return [
        b
        for b, email, holder in zip(index.badges, index.emails, index.holders, strict=True)
        if (wanted is None or email in wanted)
        and (every is None or email in every or holder in holders)
    ]
