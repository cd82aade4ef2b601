"""A person's plan applied: the async Graph write, its conditional record, or a dry run's preview.

Each record is conditional on the row the plan read: `commit_people` returns the plans whose
row someone else wrote meanwhile, to be composed again (`pipeline/rewrites.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from credly_connector.graph.client import GraphClient
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.person_plan import PersonAction, PersonPlan
from credly_connector.rules.items import item_id_for
from credly_connector.stores.people import GONE, PersonRecord, PersonWrite
from credly_connector.stores.previews import compare


async def write_person(ctx: CrawlContext, graph: GraphClient, plan: PersonPlan) -> None:
    """Apply a plan to Graph: put the item, delete it, or nothing."""
    if plan.action == PersonAction.PUT and plan.item is not None:
        await graph.put_item(ctx.options.connection_id, plan.item)
    elif plan.action == PersonAction.DELETE:
        await graph.delete_item(ctx.options.connection_id, item_id_for(plan.user_id))


def commit_people(
    ctx: CrawlContext, origin: str, plans: Sequence[PersonPlan], *, touch: bool = False
) -> list[PersonPlan]:
    """Remember what Graph now holds for the users, each conditional on the row read.

    Rows go in transactions (one per 100 users when nobody else wrote any of them); then the
    decisions of the users recorded.

    Args:
        ctx: The stores written.
        origin: What caused the write: a crawl id, or e.g. `event:<id>` / `override:<email>`.
        plans: The plans written to Graph.
        touch: Record unchanged users too (as they were). A recompose does, so that a writer
            that read their row earlier, from older badges, must compose again; a crawl batch
            does not (it would cost a row per unchanged person).

    Returns:
        The plans whose row someone else wrote since it was read: compose them again.
    """
    written_at = ctx.clock()
    writes = {
        plan.user_id: PersonWrite(_recorded(plan, origin, written_at), plan.etag)
        for plan in plans
        if plan.action != PersonAction.KEEP or touch
    }
    refused = set(ctx.people.write_many(list(writes.values())))
    ctx.recipients.record_many(
        replace(recipient, crawl_id=origin)
        for plan in plans
        if plan.user_id not in refused
        for recipient in plan.recipients
    )
    return [plan for plan in plans if plan.user_id in refused]


def _recorded(plan: PersonPlan, origin: str, written_at: datetime) -> PersonRecord:
    """The row for what Graph holds after the plan: the item, or a tombstone."""
    if plan.action == PersonAction.PUT:
        hashed, upn, badge_ids = plan.content_hash, plan.user_principal_name, plan.badge_ids
    elif plan.action == PersonAction.KEEP and plan.previous is not None:
        previous = plan.previous
        hashed, upn, badge_ids = (
            previous.content_hash,
            previous.user_principal_name,
            previous.badge_ids,
        )
        written_at, origin = previous.written_at, previous.crawl_id
    else:
        hashed, upn, badge_ids = GONE, "", ()
    return PersonRecord(
        user_id=plan.user_id,
        item_id=item_id_for(plan.user_id),
        content_hash=hashed,
        user_principal_name=upn,
        written_at=written_at,
        badge_ids=badge_ids,
        crawl_id=origin,
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
