"""People whose changes were consumed but never written: what the next real crawl owes them.

The badge store and the directory snapshot are brought up to date as changes are read, and an
incremental crawl only recomposes the people whose badges or directory entry changed during
that crawl. Whenever changes were read but their people not (all) written, the next crawl would
find those rows unchanged and leave the people as Graph had them. That happens after a dry run
(it never writes), a crawl that ended failed, and a webhook event that failed every delivery.
Each adds the emails and users it consumed to the organisation's pending set (a crawl set with
a well-known id); the plan stage of every later crawl of that organisation takes the pending set
into its own set; and a real crawl clears what it took once it succeeded, before it releases
its lease (so no dry run of the organisation can add to the set in between).
"""

from __future__ import annotations

from collections.abc import Collection

from credly_connector.pipeline.context import CrawlContext
from credly_connector.stores.crawls import CrawlRecord

PENDING_PREFIX = "pending-"


def pending_set_id(organization_id: str) -> str:
    """The crawl-set id of an organisation's pending people (never a crawl id: those are digits)."""
    return PENDING_PREFIX + organization_id


def take_pending(ctx: CrawlContext, record: CrawlRecord) -> None:
    """Add the organisation's pending emails and users to the crawl's own set (idempotent)."""
    pending = ctx.crawlsets.members(pending_set_id(record.organization_id))
    ctx.crawlsets.add_emails(record.crawl_id, pending.emails)
    ctx.crawlsets.add_users(record.crawl_id, pending.user_ids)


def remember_pending(
    ctx: CrawlContext,
    organization_id: str,
    emails: Collection[str],
    user_ids: Collection[str] = (),
) -> None:
    """Keep consumed but unwritten changes for the next crawls of the organisation (idempotent).

    A full crawl recomposes everyone, but only a crawl's own set holds changes a later
    incremental crawl could no longer see; expiries stay due until a real crawl succeeds, so
    they need no entry.
    """
    set_id = pending_set_id(organization_id)
    if emails:
        ctx.crawlsets.add_emails(set_id, set(emails))
    if user_ids:
        ctx.crawlsets.add_users(set_id, set(user_ids))


def remember_crawl(ctx: CrawlContext, record: CrawlRecord) -> None:
    """Keep everything a crawl consumed (its crawl set) pending: after a dry run or a failure."""
    members = ctx.crawlsets.members(record.crawl_id)
    remember_pending(ctx, record.organization_id, members.emails, members.user_ids)


def clear_pending(ctx: CrawlContext, record: CrawlRecord) -> int:
    """Forget the pending members a succeeded real crawl took; returns how many."""
    set_id = pending_set_id(record.organization_id)
    pending = ctx.crawlsets.members(set_id)
    if not pending.emails and not pending.user_ids:
        return 0
    taken = ctx.crawlsets.members(record.crawl_id)
    return ctx.crawlsets.remove(
        set_id, pending.emails & taken.emails, pending.user_ids & taken.user_ids
    )
