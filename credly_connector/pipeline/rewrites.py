"""Writing one person until their record holds: compose again whenever someone wrote meanwhile.

Two writers of one person (a crawl batch and a webhook recompose, on different instances)
each read the person's row, then their badges, write the item and record it conditionally
on the row read. The Graph write is not transactional with the table, so the one whose
record is refused does not know what Graph holds: it reads the row and the badges again and
writes the item again whatever the hash says, until its record holds. Once both are done,
the last write in Graph is from badges read after every earlier record, which is what the
badge store holds.
"""

from __future__ import annotations

import asyncio
import logging

from credly_connector.errors import RetryableError
from credly_connector.graph.client import GraphClient
from credly_connector.pipeline.batch_source import BatchSource
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.person_plan import PersonAction, PersonPlan, prepare_person
from credly_connector.pipeline.person_writes import commit_people, write_person
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.rules.items import item_id_for
from credly_connector.stores.people import UNKNOWN, PersonRecord

log = logging.getLogger(__name__)
# Each round is refused only when another writer recorded the same person in between; five
# in a row means a storm of writers, better settled by the message's next delivery.
REWRITE_ATTEMPTS = 5


async def rewrite_person(
    ctx: CrawlContext,
    graph: GraphClient,
    index: DirectoryIndex,
    user_id: str,
    origin: str,
    *,
    wrote: bool,
    touch: bool,
) -> PersonPlan:
    """Compose, write and record one user, again while someone else records them meanwhile.

    Args:
        ctx: The stores.
        graph: The Graph session written through.
        index: The directory snapshot emails resolve in.
        user_id: The user.
        origin: Recorded as the cause of the write (a crawl id, `event:<id>`...).
        wrote: Whether this writer already wrote the user's item (or deleted it): then it
            writes again whatever the row says, as Graph may hold that earlier write.
        touch: Record the user even when nothing needs writing (see `commit_people`), and
            once recorded, read the row and the badges again and go on while they compose
            to something else: a crawl's pages may have stored newer badges meanwhile, and its
            batch, finding the item unchanged, records nothing that would refuse this write.

    Returns:
        The plan that was recorded.

    Raises:
        RetryableError: Refused `REWRITE_ATTEMPTS` times; the row is marked so that the
            next writer rewrites the item whatever it holds.
    """
    source = BatchSource(ctx)  # reads each email and person afresh
    for _ in range(REWRITE_ATTEMPTS):
        now = ctx.clock()
        plan = await asyncio.to_thread(prepare_person, source, index, user_id, now, rewrite=wrote)
        await write_person(ctx, graph, plan)
        wrote = wrote or plan.action != PersonAction.KEEP
        refused = await asyncio.to_thread(commit_people, ctx, origin, [plan], touch=touch)
        if refused:
            log.info("user %s was recorded by another writer meanwhile: composed again", user_id)
            continue
        if not touch:
            return plan
        check = await asyncio.to_thread(prepare_person, source, index, user_id, ctx.clock())
        if check.action == PersonAction.KEEP:
            return plan
        log.info("the badges of user %s changed while they were written: composed again", user_id)
    if wrote:
        # Graph may hold any version now: whoever writes this user next must write it again.
        unknown = PersonRecord(user_id, item_id_for(user_id), UNKNOWN, "", ctx.clock())
        await asyncio.to_thread(ctx.people.put_many, [unknown])
    raise RetryableError(f"user {user_id} was recorded by others {REWRITE_ATTEMPTS} times")
