"""One person's item decided from the stores: the plan, its write to Graph and its record.

Shared by the profile stage (crawl batches) and recomposes (webhooks, overrides). A person's
row is read before their badges, and recorded conditionally on that read (`commit_people`
returns the people someone else wrote meanwhile, to be composed again: `pipeline/rewrites.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from credly_connector.graph.client import GraphClient
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.messages import ProfileMessage
from credly_connector.rules.badges import Badge
from credly_connector.rules.eligibility import decide_badges
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.rules.items import compose_item_report, item_id_for
from credly_connector.stores.badges import BadgeStore
from credly_connector.stores.people import GONE, PersonRecord, PersonVersion, PersonWrite
from credly_connector.stores.previews import compare
from credly_connector.stores.recipients import RecipientRecord

PUT, DELETE, KEEP = "put", "delete", "keep"


@dataclass
class PersonPlan:
    """What to do for one user, decided from the stores before touching Graph.

    Attributes:
        previous: The user's row as read before composing (None: no item).
        etag: That row's ETag, which the record of this plan is conditional on (None: there
            was no row, and the record creates it).
    """

    user_id: str
    action: str
    item: dict[str, object] | None = None
    content_hash: str = ""
    user_principal_name: str = ""
    badge_ids: tuple[str, ...] = ()
    recipients: list[RecipientRecord] = field(default_factory=list)
    existed: bool = False
    reasons: Counter[str] = field(default_factory=Counter)
    previous: PersonRecord | None = None
    etag: str | None = None


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
        """The stored badges of one email."""
        if self.covers(email):
            return self._span.get(email, [])
        return self.ctx.badges.badges_of(email)

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
        BadgeStore.row_prefix(email) < start and source.ctx.badges.badges_of(email)
        for email in index.emails_of(user_id)
    )


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
        rewrite: Write the item (or delete it) even when the row says Graph holds it: this
            writer wrote the user before, and Graph may hold that write, not the row's.
    """
    ctx = source.ctx
    version = source.person(user_id)
    person = version.record
    existed = person is not None
    gone = DELETE if existed or rewrite else KEEP
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
        KEEP if unchanged else PUT,
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


async def write_person(ctx: CrawlContext, graph: GraphClient, plan: PersonPlan) -> None:
    """Apply a plan to Graph: put the item, delete it, or nothing."""
    if plan.action == PUT and plan.item is not None:
        await graph.put_item(ctx.options.connection_id, plan.item)
    elif plan.action == DELETE:
        await graph.delete_item(ctx.options.connection_id, item_id_for(plan.user_id))


def commit_people(
    ctx: CrawlContext, origin: str, plans: Sequence[PersonPlan], *, touch: bool = False
) -> list[PersonPlan]:
    """Remember what Graph now holds for the users, each conditional on the row read.

    Rows go in transactions (one per 100 users when nobody else wrote any of them); then the
    decisions of the users recorded.

    Args:
        origin: What caused the write: a crawl id, or e.g. `event:<id>` / `override:<email>`.
        touch: Record unchanged users too (as they were). A recompose does, so that a writer
            that read their row earlier, from older badges, must compose again; a crawl batch
            does not (it would cost a row per unchanged person).

    Returns:
        The plans whose row someone else wrote since it was read: compose them again.
    """
    written_at = ctx.clock()
    writes = {
        plan.user_id: PersonWrite(_recorded(plan, origin, written_at), plan.etag)
        for plan in plans
        if plan.action != KEEP or touch
    }
    refused = set(ctx.people.write_many(list(writes.values())))
    ctx.recipients.record_many(
        replace(recipient, crawl_id=origin)
        for plan in plans
        if plan.user_id not in refused
        for recipient in plan.recipients
    )
    return [plan for plan in plans if plan.user_id in refused]


def _recorded(plan: PersonPlan, origin: str, written_at: datetime) -> PersonRecord:
    """The row for what Graph holds after the plan: the item, or a tombstone."""
    if plan.action == PUT:
        hashed, upn, badge_ids = plan.content_hash, plan.user_principal_name, plan.badge_ids
    elif plan.action == KEEP and plan.previous is not None:
        previous = plan.previous
        hashed, upn, badge_ids = (
            previous.content_hash,
            previous.user_principal_name,
            previous.badge_ids,
        )
        written_at, origin = previous.written_at, previous.crawl_id
    else:
        hashed, upn, badge_ids = GONE, "", ()
    return PersonRecord(
        user_id=plan.user_id,
        item_id=item_id_for(plan.user_id),
        content_hash=hashed,
        user_principal_name=upn,
        written_at=written_at,
        badge_ids=badge_ids,
        crawl_id=origin,
    )


def preview_person(ctx: CrawlContext, crawl_id: str, plan: PersonPlan) -> None:
    """Record what a dry run would do for the user, in place of the write and the commit."""
    preview = compare(
        crawl_id,
        plan.user_id,
        item=plan.item,
        content_hash=plan.content_hash,
        badge_ids=plan.badge_ids,
        user_principal_name=plan.user_principal_name,
        previous=plan.previous,
    )
    if preview is not None:
        ctx.previews.put(preview)


def explain_email(
    source: BatchSource, index: DirectoryIndex, email: str, now: datetime, crawl_id: str
) -> tuple[RecipientRecord, Counter[str]]:
    """Decisions for an email that resolves to no single user."""
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
