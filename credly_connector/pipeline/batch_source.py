"""Where a profile batch reads its people and badges, and which users a range batch recomposes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.messages import ProfileMessage
from credly_connector.rules.badges import Badge
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.stores.badges import BadgeStore
from credly_connector.stores.people import PersonVersion


class BatchSource:
    """Where a batch reads its badges and people.

    A full crawl's range batch (`ProfileMessage.span`) reads its range of badge rows at once
    (`read_span`) and any email outside it one by one; every other batch (incremental crawls,
    people batches, recomposes) reads each email and person.

    Every person's row must be read before their badges (their write is conditional on it):
    `read_people` comes before the `read_span` their badges are composed from.
    """

    def __init__(
        self, ctx: CrawlContext, message: ProfileMessage | None = None, *, first: bool = False
    ) -> None:
        """Read for `message` (None: each email and person on its own).

        Args:
            ctx: The stores read.
            message: The batch's message; a range batch's span is read at once.
            first: Whether this is the batch's first attempt (nothing it writes exists yet).
        """
        self.ctx = ctx
        self.range: tuple[str, ...] = tuple(message.span) if message is not None else ()
        # Nobody had an item when the plan looked, and no earlier attempt wrote one.
        self._absent = first and message is not None and bool(message.span) and message.fresh
        self._span: dict[str, list[Badge]] = {}
        self._people: dict[str, PersonVersion] = {}

    def read_people(self, user_ids: Sequence[str]) -> None:
        """Read the rows of `user_ids` now (before `read_span`), for `person` to answer."""
        for user_id in user_ids:
            absent = self._absent
            self._people[user_id] = PersonVersion() if absent else self.ctx.people.read(user_id)

    @property
    def assumes_absent(self) -> bool:
        """Whether `read_people` reads nobody's row (a fresh range batch's first attempt)."""
        return self._absent

    def has_item(self, user_id: str) -> bool:
        """Whether the row `read_people` read for the user holds an item."""
        version = self._people.get(user_id)
        return version is not None and version.record is not None

    def read_span(self) -> dict[str, list[Badge]]:
        """Read (again) the batch's range of badge rows: its badges by email."""
        if self.range:
            self._span = self.ctx.badges.in_range(self.range[0], self.range[-1])
        return self._span

    def covers(self, email: str) -> bool:
        """Whether the email's rows are in the batch's range."""
        if not self.range:
            return False
        prefix = BadgeStore.row_prefix(email)
        start, stop = self.range[0], self.range[-1]
        return start <= prefix and (not stop or prefix < stop)

    def badges_of(self, email: str) -> list[Badge]:
        """The stored badges of one email.

        An email outside a range batch's range, and every email of another batch, is read
        by its mark first (`BadgeStore.badges_of`): most of a person's addresses hold no
        badge, and an absent mark answers for them without a range query.
        """
        if self.covers(email):
            return self._span.get(email, [])
        return self.ctx.badges.badges_of(email, probe=True)

    def person(self, user_id: str) -> PersonVersion:
        """The stored row of a user: as `read_people` read it, otherwise read now."""
        version = self._people.pop(user_id, None)
        return version if version is not None else self.ctx.people.read(user_id)


@dataclass(frozen=True)
class RangeMembers:
    """Whom a range batch's emails resolve to.

    Attributes:
        users: Everyone its emails resolve to (or may have left an item: shared emails).
        unresolved: The emails that resolve to nobody, whose decisions are recorded.
    """

    users: tuple[str, ...]
    unresolved: tuple[str, ...]


def resolve_range(
    index: DirectoryIndex, found: dict[str, list[Badge]], gone: Sequence[str]
) -> RangeMembers:
    """Resolve the emails of a range batch: those with rows (`found`) and swept ones."""
    users: set[str] = set()
    unresolved: list[str] = []
    for email in sorted(set(found) | set(gone)):
        resolution = index.resolve(email)
        if resolution.user is not None:
            users.add(resolution.user.id)
        else:
            unresolved.append(email)
            users.update(resolution.candidates)  # a shared email may have left their items
    return RangeMembers(tuple(sorted(users)), tuple(unresolved))


def owns(source: BatchSource, index: DirectoryIndex, user_id: str) -> bool:
    """Whether a range batch recomposes this user: their first email with badges is its.

    A user with an email before the range that has badges belongs to an earlier range.
    """
    start = source.range[0] if source.range else ""
    return not any(
        BadgeStore.row_prefix(email) < start and source.badges_of(email)
        for email in index.emails_of(user_id)
    )


async def read_members(
    source: BatchSource, index: DirectoryIndex, message: ProfileMessage, pool: ThreadPoolExecutor
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The batch's users, their rows read, and the unresolved emails it explains.

    A range batch learns its people from a first read of its rows; it recomposes those with
    no item (the people batches have the others) whose first email with badges is its own;
    then it reads its rows again: what they are composed from, read after their people's
    rows.
    """
    loop = asyncio.get_running_loop()
    if not message.span:
        await asyncio.gather(
            *(loop.run_in_executor(pool, source.read_people, [u]) for u in message.user_ids)
        )
        return message.user_ids, message.emails
    found = await loop.run_in_executor(pool, source.read_span)
    members = resolve_range(index, found, message.emails)
    # Every person's row before any badge: their records are conditional on these reads.
    await asyncio.gather(
        *(loop.run_in_executor(pool, source.read_people, [u]) for u in members.users)
    )
    # After a plan that found nobody with an item, no people batch has anyone.
    chosen = [u for u in members.users if message.fresh or not source.has_item(u)]
    owned = await asyncio.gather(
        *(loop.run_in_executor(pool, owns, source, index, u) for u in chosen)
    )
    if not source.assumes_absent:
        # What they are composed from, read after their rows. A batch that read no row
        # composes from its first read: its writes create rows, refused if any exists.
        await loop.run_in_executor(pool, source.read_span)
    users = tuple(u for u, mine in zip(chosen, owned, strict=True) if mine)
    return users, members.unresolved
