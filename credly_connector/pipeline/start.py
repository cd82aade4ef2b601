"""Stage 1: refresh the directory snapshot, learn the page count, enqueue the page messages."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from credly_connector.credly.client import BadgePage, CredlyClient
from credly_connector.credly.queries import BadgeQuery
from credly_connector.errors import ConfigurationError, RequestError
from credly_connector.pipeline.cancel import ended_unsuccessfully
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.directory_round import refresh_directory
from credly_connector.pipeline.failures import describe, fail_crawl
from credly_connector.pipeline.handlers import crawl_in, failing_on_last
from credly_connector.pipeline.messages import PageMessage, PlanMessage, StartMessage
from credly_connector.pipeline.pending import remember_crawl
from credly_connector.pipeline.query import CredlyFilter, crawl_query
from credly_connector.pipeline.transitions import advance, owes_followup
from credly_connector.stores.crawls import CrawlKind, CrawlPhase, CrawlRecord

log = logging.getLogger(__name__)
STEP = "start"
STORED_CHECK_LIMIT = 1000
"""A filtered count below this is checked against the stored badges (one query page)."""
# Page messages sent side by side between two looks at the start's deadline.
SEND_CHUNK = 32


def judge_filter(filtered_total: int, unfiltered_total: int) -> tuple[str, str]:
    """Whether Credly applied the incremental filter, from the two lists' `total_count`s.

    Returns:
        (`applied` or `ignored`, a note for the crawl record). Equal counts of a non-empty
        organisation mean the filter let everything through: ignored, or every badge changed
        since the watermark, which a daily crawl practically never sees.
    """
    if unfiltered_total == 0 or filtered_total < unfiltered_total:
        return (
            CredlyFilter.APPLIED,
            f"{filtered_total} of {unfiltered_total} badges changed since the watermark",
        )
    return CredlyFilter.IGNORED, (
        f"Credly seems to ignore the updated_at_min filter: the filtered list holds all "
        f"{unfiltered_total} badges, so this incremental crawl reads the whole organisation "
        "(still exact)"
    )


def read_first_page(
    client: CredlyClient,
    query: BadgeQuery,
    stored_more_than: Callable[[int], bool] | None = None,
) -> tuple[BadgePage, str, str]:
    """Page 1 of the crawl's listing, and what Credly did with its filter (outcome, note).

    A filtered read that Credly refuses with a 4xx is read again without the filter; a
    filtered read is compared with the unfiltered count to notice a filter Credly ignores,
    unless more badges than it let through are stored already (then the filter was applied,
    and one table query spares a Credly request).

    Args:
        client: The organisation's Credly client.
        query: The crawl's listing (`crawl_query`).
        stored_more_than: Whether more than this many of the organisation's badges are
            stored (asked only for counts below `STORED_CHECK_LIMIT`).
    """
    if query.updated_since is None:
        return client.badge_page(1, query), "", ""
    try:
        first = client.badge_page(1, query)
    except RequestError as error:
        if error.status is None or not 400 <= error.status < 500:
            raise
        note = f"Credly refused the updated_at_min filter, so this crawl reads every badge: {error}"
        return client.badge_page(1, query.unfiltered()), CredlyFilter.REJECTED, note
    if first.total_count == 0:
        # Nothing let through: the filter was applied (an idle crawl needs no second read).
        return first, CredlyFilter.APPLIED, "no badge changed since the watermark"
    if (
        stored_more_than is not None
        and first.total_count < STORED_CHECK_LIMIT
        and stored_more_than(first.total_count)
    ):
        return (
            first,
            CredlyFilter.APPLIED,
            f"{first.total_count} badges changed since the watermark",
        )
    everything = client.badge_page(1, query.unfiltered())
    outcome, note = judge_filter(first.total_count, everything.total_count)
    return first, outcome, note


def handle_start(ctx: CrawlContext, message: StartMessage, delivery: Delivery) -> None:
    """Run the start stage for a requested crawl (idempotent)."""
    record = crawl_in(ctx, message.crawl_id, CrawlPhase.START)
    if record is None:
        return
    if record.phase != CrawlPhase.START:
        _resend(ctx, record, message.sent)
        return
    lease = ctx.leases.current(record.organization_id)
    if lease is None or lease.holder != record.crawl_id:
        fail_crawl(ctx, record, "start", "the crawl lost its lease to another crawl")
        return
    # A configuration error fails the crawl at once; any other failure on the last delivery.
    with failing_on_last(ctx, record, "start", delivery):
        try:
            version = refresh_directory(ctx, record.crawl_id)
            if version is None:  # the directory round goes on in the crawl's next start message
                ctx.queues.send(StartMessage(record.crawl_id))
                return
            # A first full crawl (nothing stored yet) need not read the store before each write.
            fresh = record.kind == CrawlKind.FULL and not ctx.badges.any_of(record.organization_id)
            client = ctx.credly_for(record.organization_id)
            first, credly_filter, note = read_first_page(
                client,
                crawl_query(record),
                lambda count: ctx.badges.stored_more_than(record.organization_id, count),
            )
        except ConfigurationError as error:
            fail_crawl(ctx, record, "start", describe(error))
            return
    pages = first.total_pages if first.badges else 0
    following = CrawlPhase.PAGES if pages else CrawlPhase.PLAN
    moved = advance(record, CrawlPhase.START, following, STEP)
    assert moved is not None
    saved = ctx.crawls.save(
        moved.with_changes(
            started_at=ctx.clock(),
            total_pages=pages,
            directory_version=version,
            fresh=fresh,
            credly_filter=credly_filter,
            credly_filter_note=note,
        )
    )
    if saved is None:
        # A duplicate delivery got there first and sends the messages, or the crawl was
        # cancelled meanwhile: then the directory changes just read stay owed.
        ended = ended_unsuccessfully(ctx, record.crawl_id)
        if ended is not None:
            remember_crawl(ctx, ended)
        return
    log.info(
        "crawl started: %d pages",
        pages,
        extra={"crawl_id": record.crawl_id, "stage": "start", "pages": pages},
    )
    if credly_filter in (CredlyFilter.IGNORED, CredlyFilter.REJECTED):
        log.warning(note, extra={"crawl_id": record.crawl_id, "stage": "start"})
    _resend(ctx, saved)


def _resend(ctx: CrawlContext, record: CrawlRecord, sent: int = 0) -> None:
    """Send the messages the start stage owes (again, after a crash), then say so.

    Page messages go out for at most `PipelineOptions.slice_s`; the rest are sent by
    the next start message, which says how many went (`sent`).
    """
    if owes_followup(record, CrawlPhase.PAGES, STEP):
        deadline = time.monotonic() + ctx.options.slice_s
        total = record.total_pages or 0
        span = ctx.options.pages_per_message
        firsts = range(sent + 1, total + 1, span)
        # A few at a time, side by side, so the deadline is looked at between them.
        for at in range(0, len(firsts), SEND_CHUNK):
            chunk = firsts[at : at + SEND_CHUNK]
            last = min(chunk[-1] + span - 1, total)
            ctx.queues.send_all(
                PageMessage(record.crawl_id, first, min(first + span - 1, total) - first + 1)
                for first in chunk
            )
            if last < total and time.monotonic() >= deadline:
                ctx.queues.send(StartMessage(record.crawl_id, sent=last))
                return
    elif owes_followup(record, CrawlPhase.PLAN, STEP):
        ctx.queues.send(PlanMessage(record.crawl_id))
    else:
        return
    ctx.crawls.save(record.with_changes(followup_sent=True))
