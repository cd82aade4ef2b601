"""Stage 4: recompose a batch of people's items and write only those whose content changed.

For each user: read the badges of every address that resolves to them (one partition each),
decide for every badge whether it is shown or why not, compose the item, and compare its
hash with the last write. Table work runs on a small thread pool while Graph writes run
concurrently on one event loop, paced by the Graph client.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from credly_connector import telemetry
from credly_connector.errors import ConfigurationError
from credly_connector.graph.client import GraphClient
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.messages import FinishMessage, ProfileMessage
from credly_connector.pipeline.steps import execute_step
from credly_connector.rules.badges import Badge
from credly_connector.rules.eligibility import decide_badges
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.rules.items import compose_item_report, item_id_for
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.people import PersonRecord
from credly_connector.stores.previews import compare
from credly_connector.stores.recipients import RecipientRecord
from credly_connector.stores.steps import BATCH, DONE, StepRecord

log = logging.getLogger(__name__)
TABLE_THREADS = 8
# Writes recorded together, in one transaction: after a crash, at most this many people
# whose write succeeded are written again.
COMMIT_EVERY = 25

PUT, DELETE, KEEP = "put", "delete", "keep"


@dataclass
class PersonPlan:
    """What to do for one user, decided from the stores before touching Graph."""

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


class BatchSource:
    """Where a batch reads its badges and people: as its message says, or one by one.

    A batch whose plan read the stores (`ProfileMessage.known`) reads its badges as one
    range of rows plus a few single emails and, on its first attempt, does not read the
    people the plan saw without an item. Any other batch (incremental crawls, recomposes)
    reads each email and person.
    """

    def __init__(
        self, ctx: CrawlContext, message: ProfileMessage | None = None, *, first: bool = False
    ) -> None:
        self.ctx = ctx
        self._known = message is not None and message.known
        self._people_known = self._known and first
        self._outside: frozenset[str] = frozenset()
        self._stored: frozenset[str] = frozenset()
        self._span: dict[str, list[Badge]] = {}
        if message is not None and self._known:
            self._outside = frozenset(message.outside)
            self._stored = frozenset(message.stored)
            if message.span:
                self._span = ctx.badges.between(message.span[0], message.span[-1])

    def badges_of(self, email: str) -> list[Badge]:
        """The stored badges of one email."""
        if not self._known or email in self._outside:
            return self.ctx.badges.badges_of(email)
        return self._span.get(email, [])

    def person(self, user_id: str) -> PersonRecord | None:
        """The stored item record of a user."""
        if self._people_known and user_id not in self._stored:
            return None
        return self.ctx.people.get(user_id)


def handle_profiles(ctx: CrawlContext, message: ProfileMessage, delivery: Delivery) -> None:
    """Run the profile stage for one batch (idempotent: unchanged items are not rewritten)."""
    execute_step(
        ctx,
        message.crawl_id,
        BATCH,
        message.batch,
        delivery,
        work=lambda record, first: asyncio.run(compose_batch(ctx, record, message, first=first)),
        followups=lambda record: [FinishMessage(record.crawl_id)],
        message=message,  # its users cannot be rebuilt later: a retry sends it again
    )


async def compose_batch(
    ctx: CrawlContext, record: CrawlRecord, message: ProfileMessage, *, first: bool = False
) -> StepRecord:
    """Recompose every user of the batch and record decisions for its unresolved emails.

    Args:
        first: Whether this is the batch's first attempt, when the people the plan saw
            without an item still have none (a later attempt reads every person: an earlier
            one may have written some).
    """
    index = ctx.directory_index(record.directory_version)
    now = ctx.clock()
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    failures: list[BaseException] = []
    loop = asyncio.get_running_loop()
    source = BatchSource(ctx, message, first=first)
    written: list[PersonPlan] = []

    async def commit(pool: ThreadPoolExecutor, least: int) -> None:
        """Record the writes done so far once `least` wait (in transactions)."""
        if len(written) >= least:
            plans = written[:]
            written.clear()
            await loop.run_in_executor(pool, commit_people, ctx, record.crawl_id, plans)

    # The pool's threads log with the batch's telemetry labels (threads start without them).
    with ThreadPoolExecutor(
        TABLE_THREADS,
        thread_name_prefix="profiles",
        initializer=telemetry.adopt,
        initargs=(telemetry.current_labels(),),
    ) as pool:
        async with _graph_unless_dry_run(ctx, record) as graph:
            limit = asyncio.Semaphore(max(ctx.options.write_concurrency, 1) * 2)

            async def one(user_id: str) -> None:
                async with limit:
                    plan = await loop.run_in_executor(
                        pool, prepare_person, source, index, user_id, now
                    )
                    if graph is None:  # a dry run: a preview instead of the write
                        await loop.run_in_executor(pool, preview_person, ctx, record.crawl_id, plan)
                    else:
                        await write_person(ctx, graph, plan)
                        written.append(plan)
                        await commit(pool, COMMIT_EVERY)
                    counts[_outcome(plan)] += 1
                    reasons.update(plan.reasons)

            results = await asyncio.gather(
                *(one(u) for u in message.user_ids), return_exceptions=True
            )
            await commit(pool, 1)  # what succeeded is recorded, even when others failed
        for result in results:
            if isinstance(result, BaseException):
                failures.append(result)
        explained = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, explain_email, source, index, email, now, record.crawl_id
                )
                for email in message.emails
            )
        )
        for _, skipped in explained:
            reasons.update(skipped)
        if not record.dry_run:
            await loop.run_in_executor(
                pool, ctx.recipients.record_many, [recipient for recipient, _ in explained]
            )
    if failures:
        config = [f for f in failures if isinstance(f, ConfigurationError)]
        cause = config[0] if config else failures[0]
        log.warning(
            "%d of %d people failed in batch %d",
            len(failures),
            len(message.user_ids),
            message.batch,
            extra={"crawl_id": record.crawl_id, "stage": "profiles"},
        )
        raise cause
    if not record.dry_run:  # a dry run wrote nothing and put no badge on any profile
        labels = telemetry.crawl_attributes(record.crawl_id, record.organization_id)
        telemetry.items_written(counts["people_written"], labels)
        telemetry.items_deleted(counts["people_deleted"], labels)
        telemetry.items_unchanged(counts["people_unchanged"], labels)
        telemetry.badges_skipped(reasons, labels)
    return StepRecord(
        record.crawl_id, BATCH, message.batch, DONE, counts=dict(counts), reasons=dict(reasons)
    )


@asynccontextmanager
async def _graph_unless_dry_run(
    ctx: CrawlContext, record: CrawlRecord
) -> AsyncIterator[GraphClient | None]:
    """A Graph session, or None for a dry run (which must not even sign in to write)."""
    if record.dry_run:
        yield None
        return
    async with ctx.graph_session() as graph:
        yield graph


def _outcome(plan: PersonPlan) -> str:
    if plan.action == PUT:
        return "people_written"
    if plan.action == DELETE:
        return "people_deleted"
    return "people_unchanged" if plan.existed else "people_without_item"


def prepare_person(
    source: BatchSource, index: DirectoryIndex, user_id: str, now: datetime
) -> PersonPlan:
    """Decide one user's item from the stores, read through `source` (no Graph call)."""
    ctx = source.ctx
    person = source.person(user_id)
    existed = person is not None
    user = index.user(user_id)
    if user is None:
        return PersonPlan(user_id, DELETE if existed else KEEP, existed=existed, previous=person)
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
        user, included, web_url=ctx.options.web_url, index_skills=ctx.options.index_skills
    )
    if composed is None:
        return PersonPlan(
            user_id,
            DELETE if existed else KEEP,
            recipients=recipients,
            existed=existed,
            reasons=reasons,
            previous=person,
        )
    unchanged = person is not None and person.content_hash == composed.content_hash
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


def commit_person(ctx: CrawlContext, origin: str, plan: PersonPlan) -> None:
    """Remember what Graph now holds for the user, and the decisions behind it.

    Args:
        origin: What caused the write: a crawl id, or e.g. `event:<id>` / `override:<email>`.
    """
    commit_people(ctx, origin, [plan])


def commit_people(ctx: CrawlContext, origin: str, plans: Sequence[PersonPlan]) -> None:
    """`commit_person` for several users, in transactions (people, then their decisions)."""
    written_at = ctx.clock()
    ctx.people.put_many(
        PersonRecord(
            user_id=plan.user_id,
            item_id=item_id_for(plan.user_id),
            content_hash=plan.content_hash,
            user_principal_name=plan.user_principal_name,
            written_at=written_at,
            badge_ids=plan.badge_ids,
            crawl_id=origin,
        )
        for plan in plans
        if plan.action == PUT
    )
    for plan in plans:
        if plan.action == DELETE:
            ctx.people.delete(plan.user_id)
    ctx.recipients.record_many(
        replace(recipient, crawl_id=origin) for plan in plans for recipient in plan.recipients
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
