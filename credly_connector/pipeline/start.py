"""Stage 1: refresh the directory snapshot, learn the page count, enqueue one message per page."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from credly_connector.credly.client import BadgePage, CredlyClient
from credly_connector.credly.queries import BadgeQuery
from credly_connector.directory import DirectoryChange, DirectoryUser
from credly_connector.errors import ConfigurationError, RequestError
from credly_connector.graph.errors import DeltaExpiredError
from credly_connector.pipeline.cancel import ended_unsuccessfully
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.failures import describe, fail_crawl
from credly_connector.pipeline.handlers import crawl_in, failing_on_last
from credly_connector.pipeline.messages import PageMessage, PlanMessage, StartMessage
from credly_connector.pipeline.pending import remember_crawl
from credly_connector.pipeline.query import CredlyFilter, crawl_query
from credly_connector.pipeline.transitions import advance, owes_followup
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.stores.crawls import CrawlKind, CrawlPhase, CrawlRecord
from credly_connector.stores.directory import DirectoryState

log = logging.getLogger(__name__)
STEP = "start"
STORED_CHECK_LIMIT = 1000
# Page messages sent side by side between two looks at the start's deadline.
SEND_CHUNK = 32
"""A filtered count below this is checked against the stored badges (one query page)."""


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


def refresh_directory(ctx: CrawlContext, crawl_id: str) -> str | None:
    """Bring the snapshot up to date with users/delta; the snapshot's version once it is.

    Users whose identity-relevant fields changed are remembered for the crawl (and so are
    their old and new addresses, since a moved alias can change who else an email resolves
    to) before the snapshot and the state are saved, so a retry loses nothing. A round that
    is still going after `PipelineOptions.slice_s` saves where its next page is and returns
    None: the crawl's next start message goes on from there.
    """
    state = ctx.directory.state()
    if state.next_link is None or state.round_of != crawl_id:
        fresh = not ctx.directory.any_user()
        state = replace(
            state,
            next_link=None,
            round_of=crawl_id,
            round_full=state.delta_link is None,
            round_fresh=fresh,
            round_changed=False,
        )
    # A snapshot empty when the round began has nothing to compare with or to remove.
    old = {} if state.round_fresh else {u.id: u for u in ctx.directory.users()}
    return asyncio.run(_read_round(ctx, crawl_id, state, old))


async def _read_round(
    ctx: CrawlContext, crawl_id: str, state: DirectoryState, old: dict[str, DirectoryUser]
) -> str | None:
    """Read and apply the round's pages until its end (its version) or the slice's (None).

    A page is applied (stored) in a thread while the next one is read, one page at a time
    and in order: each apply ends before the next begins, and the last before the round's
    state is saved.
    """
    deadline = time.monotonic() + ctx.options.slice_s
    link = state.next_link or state.delta_link
    async with ctx.graph_session() as graph:
        while True:
            applying: asyncio.Future[None] | None = None
            try:
                async for page in graph.users_delta(link):
                    if applying is not None:
                        await applying
                    changed = [c for c in page.changes if old.get(c.user_id) != c.user]
                    listed = [c.user_id for c in page.changes] if state.round_full and old else []
                    applying = asyncio.ensure_future(
                        asyncio.to_thread(_apply_page, ctx, crawl_id, changed, old, listed)
                    )
                    state = replace(state, round_changed=state.round_changed or bool(changed))
                    if page.delta_link is not None or page.next_link is None:
                        await applying
                        return _round_done(ctx, crawl_id, state, page.delta_link, old)
                    if time.monotonic() >= deadline:
                        await applying
                        ctx.directory.save_state(replace(state, next_link=page.next_link))
                        return None
            except DeltaExpiredError:
                if link is None:
                    raise
                if applying is not None:
                    await applying
                log.warning("users/delta link expired; reading the whole directory again")
                state, link = replace(state, round_full=True, next_link=None), None
                continue
            msg = "users/delta ended without a delta link"
            raise RuntimeError(msg)


def _apply_page(
    ctx: CrawlContext,
    crawl_id: str,
    changed: list[DirectoryChange],
    old: dict[str, DirectoryUser],
    listed: list[str],
) -> None:
    """Apply one page's changes, and note the users a full round listed (to find the gone)."""
    _apply(ctx, crawl_id, changed, old)
    if listed:
        ctx.seen.mark_users(crawl_id, listed)


def _apply(
    ctx: CrawlContext,
    crawl_id: str,
    changed: list[DirectoryChange],
    old: dict[str, DirectoryUser],
) -> None:
    """Remember whom changes affect (unless the snapshot was empty), then apply them."""
    if old and changed:
        affected_emails: set[str] = set()
        for change in changed:
            for user in (old.get(change.user_id), change.user):
                if user is not None:
                    affected_emails |= DirectoryIndex.addresses(user)
        ctx.crawlsets.add_users(crawl_id, [c.user_id for c in changed])
        ctx.crawlsets.add_emails(crawl_id, affected_emails)
    ctx.directory.apply(changed)


def _round_done(
    ctx: CrawlContext,
    crawl_id: str,
    state: DirectoryState,
    link: str | None,
    old: dict[str, DirectoryUser],
) -> str:
    """End the round: users a full one never listed are gone; store the next round's link."""
    if state.round_full and old:
        listed = ctx.seen.users(crawl_id)
        gone = [DirectoryChange(uid, None) for uid in old if uid not in listed]
        _apply(ctx, crawl_id, gone, old)
        state = replace(state, round_changed=state.round_changed or bool(gone))
    version = crawl_id if state.round_changed or not state.version else state.version
    ctx.directory.save_state(DirectoryState(link, version))
    return version
