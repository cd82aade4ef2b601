"""Which users a crawl recomposes, split into profile batches (pure).

Every user lands in exactly one batch, so no two batches write one person's item. Emails that
resolve to nobody (or to several users) travel separately, only to record why their badges
are not shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from credly_connector.chunking import runs
from credly_connector.pipeline.messages import MAX_JSON_BYTES, ProfileMessage, json_size
from credly_connector.rules.identity import DirectoryIndex


@dataclass(frozen=True)
class ProfilePlan:
    """The users to recompose and the unresolved emails to explain."""

    user_ids: tuple[str, ...]
    unresolved_emails: tuple[str, ...]


@dataclass(frozen=True)
class StoredState:
    """What a full crawl's plan read of the stores, for batches that need not read it again.

    Attributes:
        badge_emails: Every email with a stored badge of a configured organisation.
        stored_users: Every user with an item.
        order: The order the badge store keeps emails in (its row keys sort this way).
    """

    badge_emails: frozenset[str]
    stored_users: frozenset[str]
    order: Callable[[str], str]


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


# Room left in a message for its framing and the batch number (the strings are counted).
_FRAMING_BYTES = 400


def known_batch_messages(
    crawl_id: str,
    plan: ProfilePlan,
    batch_size: int,
    index: DirectoryIndex,
    state: StoredState,
) -> list[ProfileMessage]:
    """Batches of a full crawl, in the badge store's email order, each knowing its reads.

    Users are ordered by their first email with badges, so a batch's badges are mostly one
    range of rows (`span`), read at once; its users' other badge emails (`outside`) are read
    one by one. Together the batches read the badge table about once.
    """
    first: dict[str, str] = {}
    badge_emails: dict[str, list[str]] = {}
    for user_id in plan.user_ids:
        mine = sorted(
            (e for e in index.emails_of(user_id) if e in state.badge_emails), key=state.order
        )
        badge_emails[user_id] = mine
        first[user_id] = state.order(mine[0]) if mine else ""
    users = sorted(plan.user_ids, key=lambda u: (first[u], u))
    messages: list[ProfileMessage] = []
    for chunk in _runs(users, batch_size, lambda u: [u, *badge_emails[u]]):
        firsts = [badge_emails[u][0] for u in chunk if badge_emails[u]]
        span = (firsts[0], firsts[-1]) if firsts else ()
        low, high = (state.order(span[0]), state.order(span[-1])) if span else ("", "")
        outside = [
            e
            for u in chunk
            for e in badge_emails[u]
            if not span or not low <= state.order(e) <= high
        ]
        messages.append(
            ProfileMessage(
                crawl_id,
                len(messages) + 1,
                tuple(chunk),
                known=True,
                span=span,
                outside=tuple(outside),
                stored=tuple(u for u in chunk if u in state.stored_users),
            )
        )
    emails = sorted(plan.unresolved_emails, key=state.order)
    for chunk in _runs(emails, batch_size, lambda e: [e]):
        messages.append(
            ProfileMessage(
                crawl_id,
                len(messages) + 1,
                (),
                tuple(chunk),
                known=True,
                span=(chunk[0], chunk[-1]),
            )
        )
    return messages


def _runs(
    values: list[str], count: int, strings: Callable[[str], list[str]]
) -> Iterator[list[str]]:
    """`values` in runs of at most `count` whose strings fit one message with its framing.

    Each string may appear twice in a message (e.g. as a member and in `stored` or `span`).
    """
    return runs(
        values,
        size=lambda value: sum(2 * (len(text.encode()) + 3) for text in strings(value)),
        budget=MAX_JSON_BYTES,
        count=count,
        overhead=_FRAMING_BYTES,
    )
