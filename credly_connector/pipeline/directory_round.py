"""The start stage's directory round: the users/delta pages since the last round, applied.

A round reads Graph's users/delta from the stored delta link (or the whole directory), keeps
the snapshot (`stores/directory.py`) up to date, and remembers for the crawl whom the changes
affect. A round longer than one invocation's slice goes on in the crawl's next start message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from credly_connector.directory import DirectoryChange, DirectoryUser
from credly_connector.graph.errors import DeltaExpiredError
from credly_connector.pipeline.context import CrawlContext
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.stores.directory import DirectoryState

log = logging.getLogger(__name__)


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
