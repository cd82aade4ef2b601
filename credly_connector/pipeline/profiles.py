"""Stage 4: recompose a batch of people's items and write only those whose content changed.

For each user: read the badges of every address that resolves to them (one partition each),
decide for every badge whether it is shown or why not, compose the item, and compare its
hash with the last write. Table work runs on a small thread pool while Graph writes run
concurrently on one event loop, paced by the Graph client.

A person's row is read before their badges, and recorded conditionally on that read: when
someone else (a webhook on another instance) wrote it in between, the person is composed
and written again (`pipeline/rewrites.py`), so the item ends as the badge store says.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from credly_connector import telemetry
from credly_connector.errors import ConfigurationError
from credly_connector.graph.client import GraphClient
from credly_connector.pipeline.composing import (
    DELETE,
    PUT,
    BatchSource,
    PersonPlan,
    commit_people,
    explain_email,
    owns,
    prepare_person,
    preview_person,
    resolve_range,
    write_person,
)
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.messages import FinishMessage, ProfileMessage, encode
from credly_connector.pipeline.rewrites import rewrite_person
from credly_connector.pipeline.steps import execute_step
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.steps import BATCH, DONE, PENDING, StepRecord

log = logging.getLogger(__name__)
TABLE_THREADS = 8
# Writes recorded together, in one transaction: after a crash, at most this many people
# whose write succeeded are written again.
COMMIT_EVERY = 25


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
        # Its users cannot be rebuilt later: a retry sends it again, no longer fresh (this
        # attempt may have written some of its people).
        message=replace(message, fresh=False),
    )


async def compose_batch(
    ctx: CrawlContext, record: CrawlRecord, message: ProfileMessage, *, first: bool = False
) -> StepRecord:
    """Recompose every user of the batch and record decisions for its unresolved emails.

    Args:
        first: Whether this is the batch's first attempt (no earlier one wrote anybody).
    """
    index = ctx.directory_index(record.directory_version)
    now = ctx.clock()
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    failures: list[BaseException] = []
    loop = asyncio.get_running_loop()
    source = BatchSource(ctx, message, first=first)
    written: list[PersonPlan] = []
    # People not begun once the batch's time is up: a message of the same batch takes them.
    deadline = time.monotonic() + ctx.options.batch_s
    begun: list[str] = []
    left: list[str] = []

    # The pool's threads log with the batch's telemetry labels (threads start without them).
    with ThreadPoolExecutor(
        TABLE_THREADS,
        thread_name_prefix="profiles",
        initializer=telemetry.adopt,
        initargs=(telemetry.current_labels(),),
    ) as pool:
        user_ids, emails = await _members(source, index, message, pool)
        async with _graph_unless_dry_run(ctx, record) as graph:
            limit = asyncio.Semaphore(max(ctx.options.write_concurrency, 1) * 2)

            async def commit(least: int) -> None:
                """Record the writes done so far once `least` wait; rewrite the refused."""
                if graph is None or len(written) < least:
                    return
                plans = written[:]
                written.clear()
                refused = await loop.run_in_executor(
                    pool, commit_people, ctx, record.crawl_id, plans
                )
                results = await asyncio.gather(
                    *(settle(graph, plan) for plan in refused), return_exceptions=True
                )
                failures.extend(r for r in results if isinstance(r, BaseException))

            async def settle(graph: GraphClient, plan: PersonPlan) -> None:
                """Someone else recorded this person since the batch read them: again."""
                again = await rewrite_person(
                    ctx, graph, index, plan.user_id, record.crawl_id, wrote=True, touch=False
                )
                counts[_outcome(plan)] -= 1
                counts[_outcome(again)] += 1

            async def one(user_id: str) -> None:
                async with limit:
                    if begun and time.monotonic() >= deadline:
                        left.append(user_id)
                        return
                    begun.append(user_id)
                    plan = await loop.run_in_executor(
                        pool, prepare_person, source, index, user_id, now
                    )
                    if graph is None:  # a dry run: a preview instead of the write
                        await loop.run_in_executor(pool, preview_person, ctx, record.crawl_id, plan)
                    else:
                        await write_person(ctx, graph, plan)
                        written.append(plan)
                    counts[_outcome(plan)] += 1
                    reasons.update(plan.reasons)
                    await commit(COMMIT_EVERY)

            results = await asyncio.gather(*(one(u) for u in user_ids), return_exceptions=True)
            await commit(1)  # what succeeded is recorded, even when others failed
        failures.extend(r for r in results if isinstance(r, BaseException))
        if left:
            _report(
                record,
                message,
                people=len(begun),
                counts=counts,
                reasons=reasons,
                failures=failures,
            )
            return _handed_over(record, message, Outcome(counts, reasons), left, emails)
        reasons.update(await _explain(ctx, record, source, index, emails, pool=pool))
    _report(
        record, message, people=len(user_ids), counts=counts, reasons=reasons, failures=failures
    )
    return StepRecord(
        record.crawl_id, BATCH, message.batch, DONE, counts=dict(counts), reasons=dict(reasons)
    )


@dataclass(frozen=True)
class Outcome:
    """What a batch (or part of one) counted."""

    counts: Counter[str]
    reasons: Counter[str]


async def _explain(
    ctx: CrawlContext,
    record: CrawlRecord,
    source: BatchSource,
    index: DirectoryIndex,
    emails: tuple[str, ...],
    *,
    pool: ThreadPoolExecutor,
) -> Counter[str]:
    """Record the decisions of the emails that resolve to nobody; their skip reasons."""
    loop = asyncio.get_running_loop()
    now = ctx.clock()
    explained = await asyncio.gather(
        *(
            loop.run_in_executor(pool, explain_email, source, index, email, now, record.crawl_id)
            for email in emails
        )
    )
    if not record.dry_run:
        await loop.run_in_executor(
            pool, ctx.recipients.record_many, [recipient for recipient, _ in explained]
        )
    reasons: Counter[str] = Counter()
    for _, skipped in explained:
        reasons.update(skipped)
    return reasons


def _handed_over(
    record: CrawlRecord,
    message: ProfileMessage,
    outcome: Outcome,
    left: list[str],
    emails: tuple[str, ...],
) -> StepRecord:
    """The batch's record when its time ran out: what it did, and the message for the rest."""
    counts, reasons = outcome.counts, outcome.reasons
    rest = ProfileMessage(record.crawl_id, message.batch, tuple(sorted(left)), emails)
    log.info(
        "batch %d out of time: %d people handed to its next message",
        message.batch,
        len(left),
        extra={"crawl_id": record.crawl_id, "stage": "profiles"},
    )
    return StepRecord(
        record.crawl_id,
        BATCH,
        message.batch,
        PENDING,
        counts=dict(counts),
        reasons=dict(reasons),
        message=encode(rest),
    )


async def _members(
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


def _report(
    record: CrawlRecord,
    message: ProfileMessage,
    *,
    people: int,
    counts: Counter[str],
    reasons: Counter[str],
    failures: list[BaseException],
) -> None:
    """Fail the batch with its first failure (a configuration one first), else count it."""
    if failures:
        config = [f for f in failures if isinstance(f, ConfigurationError)]
        cause = config[0] if config else failures[0]
        log.warning(
            "%d of %d people failed in batch %d",
            len(failures),
            people,
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
