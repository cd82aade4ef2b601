"""The walks of a full crawl's plan: orphan rows swept, badge rows cut into range batches, people.

Each walk goes on from where the slice's message says (`PlanSlice.after`) until it ends or
the slice's time is up; nothing is held in memory but a chunk of rows (one query page).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum

from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.messages import MAX_JSON_BYTES, PlanMessage, ProfileMessage
from credly_connector.stores.badges import BadgeKey, BadgeStore
from credly_connector.stores.crawls import CrawlRecord

log = logging.getLogger(__name__)
# Rows read, checked and swept together (one query page).
CHUNK_ROWS = 1000
# Swept rows deleted side by side.
SWEEP_THREADS = 8
# Room in a range batch's message for the emails of its swept rows.
GONE_EMAIL_BYTES = MAX_JSON_BYTES // 2


class PlanPart(StrEnum):
    """The parts of a full plan, in order (the `part` of a plan message)."""

    ORPHANS = "orphans"
    BADGES = "badges"
    PEOPLE = "people"
    SEND = "send"


@dataclass
class PlanSlice:
    """What one slice of a full crawl's plan did: its batches, counts and where it stopped.

    Attributes:
        part: The walk the slice is in.
        after: Where that walk goes on from (a row key, a user id, a batch number).
        batch: The number the next planned batch gets.
        sweep: Whether every page succeeded, so rows no page saw are gone from Credly.
        fresh: Whether nobody had an item when the people were walked.
        deadline: When the slice's time is up (`time.monotonic()`).
    """

    crawl_id: str
    part: str
    after: str
    batch: int
    sweep: bool
    fresh: bool
    deadline: float
    batches: list[ProfileMessage] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def planned(self, message: ProfileMessage) -> None:
        """Add a batch."""
        self.batches.append(message)
        self.batch += 1

    def out_of_time(self) -> bool:
        """Whether the slice's time is up."""
        return time.monotonic() >= self.deadline

    def next_message(self, number: int) -> PlanMessage:
        """The message of the slice after this one (`number`)."""
        return PlanMessage(
            self.crawl_id, number + 1, self.part, self.after, self.batch, self.sweep, self.fresh
        )


def walk_orphans(ctx: CrawlContext, record: CrawlRecord, work: PlanSlice) -> bool:
    """Sweep a chunk of the rows of organisations no longer configured; True when none left.

    Their emails are marked gone, so the badge walk puts them in range batches (an email
    nobody owns gets its decisions recorded again) and their people are in people batches.
    """
    if not work.sweep:
        return True
    chunk = list(itertools.islice(ctx.badges.keys_outside(ctx.options.organizations), CHUNK_ROWS))
    _sweep(ctx, record, chunk)
    return len(chunk) < CHUNK_ROWS


def _sweep(ctx: CrawlContext, record: CrawlRecord, gone: list[BadgeKey]) -> None:
    """Forget rows: their recipients remembered and their marks written before any delete."""
    if not gone:
        return
    ctx.crawlsets.add_emails(record.crawl_id, {key.email for key in gone}, group="sweep")
    ctx.seen.mark_gone(record.crawl_id, [k.row_key() for k in gone], [k.email for k in gone])

    def forget(key: BadgeKey) -> None:
        badge = ctx.badges.get(key)
        if badge is not None:
            ctx.expiries.forget(badge)
        ctx.badges.delete(key)

    with ThreadPoolExecutor(min(SWEEP_THREADS, len(gone)), thread_name_prefix="sweep") as pool:
        list(pool.map(forget, gone))
    log.info(
        "%d badges no longer listed by Credly were removed",
        len(gone),
        extra={"crawl_id": record.crawl_id, "stage": "plan"},
    )


@dataclass
class _Row:
    key: str
    email: str
    gone: bool


def _rows(ctx: CrawlContext, record: CrawlRecord, start: str) -> Iterator[_Row]:
    """The organisation's rows and the crawl's gone marks from row key `start`, merged."""
    stored = (
        _Row(key.row_key(), key.email, gone=False)
        for key in ctx.badges.keys(record.organization_id, start)
    )
    marked = (
        _Row(key, email, gone=True) for key, email in ctx.seen.gone_between(record.crawl_id, start)
    )
    last = ""
    for row in heapq.merge(marked, stored, key=lambda r: r.key):
        if row.key != last:  # marked gone but not deleted yet (a crash between): gone
            last = row.key
            yield row


@dataclass
class _Cut:
    """The open range batch of the badge walk: where it starts and what it holds so far."""

    start: str
    emails: int = 0
    last_email: str = ""
    gone: list[str] = field(default_factory=list)
    gone_bytes: int = 0
    gone_rows: int = 0


def walk_badges(ctx: CrawlContext, record: CrawlRecord, work: PlanSlice) -> bool:
    """Sweep and cut the organisation's rows into range batches; True at the walk's end.

    A slice stops only where a batch ends, so the next one starts a fresh batch there.
    """
    with _marking(ctx, record.organization_id) as mark:
        return _walk_badges(ctx, record, work, mark)


def _walk_badges(
    ctx: CrawlContext, record: CrawlRecord, work: PlanSlice, mark: Callable[[set[str]], None]
) -> bool:
    cut = _Cut(work.after)
    rows = _rows(ctx, record, work.after)
    while True:
        chunk = list(itertools.islice(rows, CHUNK_ROWS))
        # A fresh crawl found none of the organisation's rows stored: every row is one its
        # pages (or a webhook since) wrote, and nothing is swept.
        if work.sweep and not record.fresh:
            chunk = _swept(ctx, record, chunk)
        mark({row.email for row in chunk})
        for row in chunk:
            if row.email != cut.last_email:
                if cut.emails >= ctx.options.batch_size or cut.gone_bytes >= GONE_EMAIL_BYTES:
                    boundary = BadgeStore.row_prefix(row.email)
                    _close(work, cut, boundary)
                    cut = _Cut(boundary)
                    if work.out_of_time():
                        work.after = boundary
                        return False
                cut.emails += 1
                cut.last_email = row.email
                if row.gone:
                    cut.gone.append(row.email)
                    cut.gone_bytes += len(row.email.encode()) + 3
            elif row.gone and (not cut.gone or cut.gone[-1] != row.email):
                cut.gone.append(row.email)
                cut.gone_bytes += len(row.email.encode()) + 3
            cut.gone_rows += int(row.gone)
        if len(chunk) < CHUNK_ROWS:
            if cut.emails:
                _close(work, cut, "")
            work.after = ""
            return True


@contextmanager
def _marking(ctx: CrawlContext, organization_id: str) -> Iterator[Callable[[set[str]], None]]:
    """Mark each chunk's emails behind the walk, while it reads the next chunk.

    Until the organisation is marked complete, the walk marks every email it finds
    (`stores/badge_marks.py`). One chunk's marks are in flight at a time; every one is written
    (or its failure raised) when the block ends, so before the walk's end is recorded.
    """
    if ctx.badges.marks.complete(organization_id):
        yield lambda emails: None
        return
    pending: list[Future[object]] = []

    def mark(emails: set[str]) -> None:
        while pending:
            pending.pop().result()
        pending.append(pool.submit(ctx.badges.marks.mark, organization_id, emails))

    with ThreadPoolExecutor(1, thread_name_prefix="plan-marks") as pool:
        yield mark
        while pending:
            pending.pop().result()


def _swept(ctx: CrawlContext, record: CrawlRecord, chunk: list[_Row]) -> list[_Row]:
    """The chunk with the stored rows no page of the crawl saw swept (and marked gone)."""
    present = [row for row in chunk if not row.gone]
    if not present:
        return chunk
    seen = ctx.seen.seen_between(record.crawl_id, present[0].key, present[-1].key)
    unseen = [row for row in present if row.key not in seen]
    if not unseen:
        return chunk
    _sweep(ctx, record, [BadgeKey.from_row(record.organization_id, row.key) for row in unseen])
    gone = {row.key for row in unseen}
    return [replace(row, gone=True) if row.key in gone else row for row in chunk]


def _close(work: PlanSlice, cut: _Cut, stop: str) -> None:
    work.planned(
        ProfileMessage(work.crawl_id, work.batch, emails=tuple(cut.gone), span=(cut.start, stop))
    )
    work.counts["badges_removed"] += cut.gone_rows


def walk_people(ctx: CrawlContext, record: CrawlRecord, work: PlanSlice) -> bool:
    """Batch the next people with an item; True once every one is in a batch."""
    people = ctx.people.user_ids(work.after)
    while True:
        users = tuple(itertools.islice(people, ctx.options.batch_size))
        if not users and not work.after:
            work.fresh = True  # nobody has an item: the range batches own everyone
        if users:
            work.planned(ProfileMessage(work.crawl_id, work.batch, user_ids=users))
            work.after = users[-1]
        if len(users) < ctx.options.batch_size:
            return True
        if work.out_of_time():
            return False
