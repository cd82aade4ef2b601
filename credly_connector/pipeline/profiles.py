"""Stage 4: recompose a batch of people's items and write only those whose content changed.

For each user: read the badges of every address that resolves to them (one partition each),
decide for every badge whether it is shown or why not, compose the item, and compare its
hash with the last write. The rooms, in the order a batch goes through them: where the
batch reads (`batch_source.py`), each person's plan (`person_plan.py`), the async writer
(`batch_writer.py`, with `person_writes.py` and `rewrites.py`). Table work runs on a small
thread pool while Graph writes run concurrently on one event loop, paced by the Graph client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace

from credly_connector import telemetry
from credly_connector.errors import ConfigurationError
from credly_connector.graph.client import GraphClient
from credly_connector.pipeline.batch_source import BatchSource, read_members
from credly_connector.pipeline.batch_writer import BatchWriter
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.messages import FinishMessage, ProfileMessage, encode
from credly_connector.pipeline.person_plan import explain_email, prepare_person
from credly_connector.pipeline.steps import begin_step
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus

log = logging.getLogger(__name__)
TABLE_THREADS = 8


def handle_profiles(ctx: CrawlContext, message: ProfileMessage, delivery: Delivery) -> None:
    """Run the profile stage for one batch (idempotent: unchanged items are not rewritten)."""
    # Its users cannot be rebuilt later: a retry sends it again, no longer fresh (this
    # attempt may have written some of its people).
    kept = replace(message, fresh=False)
    run = begin_step(ctx, message.crawl_id, StepKind.BATCH, message.batch, delivery, message=kept)
    if run is None:
        return
    if run.due:
        with run.attempt():
            run.result = asyncio.run(compose_batch(ctx, run.crawl, message, first=run.first))
    run.finish([FinishMessage(message.crawl_id)])


async def compose_batch(
    ctx: CrawlContext, record: CrawlRecord, message: ProfileMessage, *, first: bool = False
) -> StepRecord:
    """Recompose every user of the batch and record decisions for its unresolved emails.

    Args:
        ctx: The stores and the Graph session.
        record: The crawl.
        message: The batch.
        first: Whether this is the batch's first attempt (no earlier one wrote anybody).

    Returns:
        The batch's record: done, or pending with a message for the people its time left.
    """
    # The batch's time counts from here, the directory index's first build included. People
    # not begun once it is up, or the explaining of its emails, go to a message of the batch.
    deadline = time.monotonic() + ctx.options.batch_s
    index = ctx.directory_index(record.directory_version)
    now = ctx.clock()
    loop = asyncio.get_running_loop()
    source = BatchSource(ctx, message, first=first)
    begun: list[str] = []
    left: list[str] = []

    # The pool's threads log with the batch's telemetry labels (threads start without them).
    with ThreadPoolExecutor(
        TABLE_THREADS,
        thread_name_prefix="profiles",
        initializer=telemetry.adopt,
        initargs=(telemetry.current_labels(),),
    ) as pool:
        user_ids, emails = await read_members(source, index, message, pool)
        async with _graph_unless_dry_run(ctx, record) as graph:
            writer = BatchWriter(ctx, record.crawl_id, index, graph, pool)
            limit = asyncio.Semaphore(max(ctx.options.write_concurrency, 1) * 2)

            async def one(user_id: str) -> None:
                async with limit:
                    if begun and time.monotonic() >= deadline:
                        left.append(user_id)
                        return
                    begun.append(user_id)
                    plan = await loop.run_in_executor(
                        pool, prepare_person, source, index, user_id, now
                    )
                    await writer.apply(plan)

            results = await asyncio.gather(*(one(u) for u in user_ids), return_exceptions=True)
            await writer.commit()  # what succeeded is recorded, even when others failed
        failures = [*writer.failures, *(r for r in results if isinstance(r, BaseException))]
        # A message that recomposed somebody leaves its explaining to the next once time is up.
        if left or (begun and emails and time.monotonic() >= deadline):
            _report(record, message, people=len(begun), writer=writer, failures=failures)
            return _handed_over(record, message, writer, left, emails)
        writer.reasons.update(await _explain(ctx, record, source, index, emails, pool=pool))
    _report(record, message, people=len(user_ids), writer=writer, failures=failures)
    return StepRecord(
        record.crawl_id,
        StepKind.BATCH,
        message.batch,
        StepStatus.DONE,
        counts=dict(writer.counts),
        reasons=dict(writer.reasons),
    )


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
    writer: BatchWriter,
    left: list[str],
    emails: tuple[str, ...],
) -> StepRecord:
    """The batch's record when its time ran out: what it did, and the message for the rest.

    The rest is the people `left` (none when only the explaining of `emails` is left).
    """
    rest = ProfileMessage(record.crawl_id, message.batch, tuple(sorted(left)), emails)
    log.info(
        "batch %d out of time: %d people handed to its next message",
        message.batch,
        len(left),
        extra={"crawl_id": record.crawl_id, "stage": "profiles"},
    )
    return StepRecord(
        record.crawl_id,
        StepKind.BATCH,
        message.batch,
        StepStatus.PENDING,
        counts=dict(writer.counts),
        reasons=dict(writer.reasons),
        message=encode(rest),
    )


def _report(
    record: CrawlRecord,
    message: ProfileMessage,
    *,
    people: int,
    writer: BatchWriter,
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
        counts = writer.counts
        labels = telemetry.crawl_attributes(record.crawl_id, record.organization_id)
        telemetry.items_written(counts["people_written"], labels)
        telemetry.items_deleted(counts["people_deleted"], labels)
        telemetry.items_unchanged(counts["people_unchanged"], labels)
        telemetry.badges_skipped(writer.reasons, labels)


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
