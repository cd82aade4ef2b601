"""Which users a crawl recomposes, split into profile batches (pure).

Every user lands in exactly one batch, so no two batches write one person's item. Emails that
resolve to nobody (or to several users) travel separately, only to record why their badges
are not shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from credly_connector.pipeline.messages import MAX_JSON_BYTES, ProfileMessage, json_size
from credly_connector.rules.identity import DirectoryIndex


@dataclass(frozen=True)
class ProfilePlan:
    """The users to recompose and the unresolved emails to explain."""

    user_ids: tuple[str, ...]
    unresolved_emails: tuple[str, ...]


def plan_people(
    index: DirectoryIndex, emails: Iterable[str], user_ids: Iterable[str]
) -> ProfilePlan:
    """Resolve affected emails to users; keep unresolvable ones apart."""
    users = set(user_ids)
    unresolved: set[str] = set()
    for email in emails:
        resolution = index.resolve(email)
        if resolution.user is not None:
            users.add(resolution.user.id)
        else:
            unresolved.add(email)
            # An email shared by several users may have left one of their items.
            users.update(resolution.candidates)
    return ProfilePlan(tuple(sorted(users)), tuple(sorted(unresolved)))


def batch_messages(crawl_id: str, plan: ProfilePlan, batch_size: int) -> list[ProfileMessage]:
    """Deterministic batches: the same plan always gives the same numbered messages."""
    messages: list[ProfileMessage] = []
    users = list(plan.user_ids)
    emails = list(plan.unresolved_emails)
    for start in range(0, len(users), batch_size):
        messages.append(
            ProfileMessage(crawl_id, len(messages) + 1, tuple(users[start : start + batch_size]))
        )
    chunk: list[str] = []
    for email in emails:
        candidate = ProfileMessage(crawl_id, len(messages) + 1, (), (*chunk, email))
        if chunk and (len(chunk) >= batch_size or json_size(candidate) > MAX_JSON_BYTES):
            messages.append(ProfileMessage(crawl_id, len(messages) + 1, (), tuple(chunk)))
            chunk = []
        chunk.append(email)
    if chunk:
        messages.append(ProfileMessage(crawl_id, len(messages) + 1, (), tuple(chunk)))
    return messages
