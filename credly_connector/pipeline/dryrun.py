"""What a dry run owes the next real crawl: the people whose changes it saw but did not write.

A dry run still brings the badge store and the directory snapshot up to date, and an
incremental crawl only recomposes the people whose badges or directory entry changed during
that crawl. Without help, the next real crawl would find those rows unchanged and leave the
people the dry run looked at as Graph had them. So a dry run's plan stage adds its crawl set
(the emails and users whose change it consumed) to the organisation's pending set, a crawl set
with a well-known id; the plan stage of every later crawl of that organisation (dry or real)
takes the pending set into its own set; and a real crawl clears what it took once it succeeded,
before it releases its lease (so no dry run of the organisation can add to the set in between).
"""

from __future__ import annotations

from credly_connector.pipeline.context import CrawlContext
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.crawlsets import CrawlSet

PENDING_PREFIX = "pending-"


def pending_set_id(organization_id: str) -> str:
    """The crawl-set id of an organisation's pending people (never a crawl id: those are digits)."""
    return PENDING_PREFIX + organization_id


def take_pending(ctx: CrawlContext, record: CrawlRecord) -> None:
    """Add the organisation's pending emails and users to the crawl's own set (idempotent)."""
    pending = ctx.crawlsets.members(pending_set_id(record.organization_id))
    ctx.crawlsets.add_emails(record.crawl_id, pending.emails)
    ctx.crawlsets.add_users(record.crawl_id, pending.user_ids)


def remember_pending(ctx: CrawlContext, record: CrawlRecord, members: CrawlSet) -> None:
    """Keep the changes a dry run consumed (its crawl set) for the next crawls of its organisation.

    A full crawl recomposes everyone, but only its set holds changes a later incremental crawl
    could no longer see; expiries stay due until a real crawl succeeds, so they need no entry.
    """
    set_id = pending_set_id(record.organization_id)
    ctx.crawlsets.add_emails(set_id, members.emails)
    ctx.crawlsets.add_users(set_id, members.user_ids)


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
