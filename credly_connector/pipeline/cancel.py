"""Cancelling a crawl: end it `cancelled`, keep what it read pending, free its organisation.

A cancelled crawl is final, so every stage handler (and the poison backstop, and a retry)
leaves its messages still on the queues without effect: each reads the crawl record first
and does nothing for an ended crawl. The watermark is not moved (only the finish stage of a
succeeded crawl moves it), and the people whose changes the crawl consumed join the
organisation's pending set, as a failed crawl's do, so the next crawl writes them.

The status is one ETag-conditional write that only a crawl not yet ended accepts, so a
cancel racing the finish stage (or a failure) ends in exactly one final state. (A finish
that loses that race may already have moved the watermark: it does so only once every page
and batch succeeded, so nothing the crawl read is left unwritten.) A page still
running when the cancel lands adds its recipients to the crawl set after the cancel copied
it; the page reads the crawl record once it has, and keeps them pending itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from credly_connector import telemetry
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.pending import remember_crawl, remember_pending
from credly_connector.pipeline.transitions import cancelled
from credly_connector.stores.crawls import CrawlRecord, CrawlStatus

log = logging.getLogger(__name__)


class CancelOutcome(StrEnum):
    """What a cancel did, or why it did nothing."""

    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    ALREADY_ENDED = "already_ended"


@dataclass(frozen=True)
class Cancel:
    """The answer of `end_as_cancelled`: the outcome and the crawl as it stands afterwards."""

    outcome: CancelOutcome
    record: CrawlRecord | None = None


def end_as_cancelled(ctx: CrawlContext, crawl_id: str) -> Cancel:
    """End crawl `crawl_id` as cancelled and release its organisation's lease at once.

    Idempotent in effect: cancelling an ended crawl (a second cancel included) changes
    nothing and says so (`ALREADY_ENDED`, with the record as it ended).
    """
    record = ctx.crawls.get(crawl_id)
    if record is None:
        return Cancel(CancelOutcome.NOT_FOUND)
    telemetry.annotate(crawl_id=crawl_id, organization_id=record.organization_id)
    if record.final:
        return Cancel(CancelOutcome.ALREADY_ENDED, record)
    # Before the record says cancelled, so a crash in between loses nothing (idempotent).
    remember_crawl(ctx, record)
    saved = ctx.crawls.update(crawl_id, lambda current: cancelled(current, ctx.clock()))
    if saved is None:
        # The finish stage (or a failure) ended it first; that ending stands.
        return Cancel(CancelOutcome.ALREADY_ENDED, ctx.crawls.get(crawl_id))
    # Again once it says so: a stage that added to the crawl set in between (the start's
    # directory changes, the plan's sweep) finds the crawl ended only after its write.
    remember_crawl(ctx, saved)
    telemetry.crawl_ended(saved)  # only the call that saved the final status counts it
    ctx.leases.release(saved.organization_id, crawl_id)
    log.info(
        "crawl cancelled in %s",
        saved.phase,
        extra={"crawl_id": crawl_id, "stage": saved.phase, "status": saved.status},
    )
    return Cancel(CancelOutcome.CANCELLED, saved)


def ended_unsuccessfully(ctx: CrawlContext, crawl_id: str) -> CrawlRecord | None:
    """The crawl's record if it ended cancelled or failed, else None."""
    current = ctx.crawls.get(crawl_id)
    if current is not None and current.final and current.status != CrawlStatus.SUCCEEDED:
        return current
    return None


def keep_if_ended(ctx: CrawlContext, crawl_id: str, emails: set[str]) -> None:
    """Keep `emails`, just added to the crawl set, pending if the crawl ended unsuccessfully.

    Called by a stage after it added to the crawl set and before it writes the rows that
    make those changes invisible to later crawls: either the cancel (or failure) copied the
    set after this addition, or this read sees the crawl ended.
    """
    if not emails:
        return
    ended = ended_unsuccessfully(ctx, crawl_id)
    if ended is not None:
        remember_pending(ctx, ended.organization_id, emails)
