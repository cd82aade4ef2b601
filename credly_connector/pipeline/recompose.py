"""Recomposing a few people outside a crawl: after a webhook event or an identity override.

The same rules as the profile stage (prepare, write only on a hash change, commit), applied
to the users the given emails resolve to in the stored directory snapshot. Emails that
resolve to nobody get their decisions recorded so the diagnosis can explain them.

Each user is recorded conditionally on the row read before composing, unchanged ones too,
so a crawl batch on another instance that read older badges cannot record its write over
this one: whoever is refused composes again (`pipeline/rewrites.py`). Once recorded, the
user is read again, in case a crawl stored newer badges while this write was under way.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from credly_connector.pipeline.batch_source import BatchSource
from credly_connector.pipeline.batching import plan_people
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.person_plan import PersonAction, explain_email
from credly_connector.pipeline.rewrites import rewrite_person


@dataclass(frozen=True)
class Recomposed:
    """What recomposing did, per user id and for unresolved emails."""

    written: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str] | int]:
        """Counts and user ids, for ops answers and logs (no emails)."""
        return {
            "written": len(self.written),
            "deleted": len(self.deleted),
            "unchanged": len(self.unchanged),
            "unresolvedEmails": len(self.unresolved),
            "userIds": sorted({*self.written, *self.deleted, *self.unchanged}),
        }


def recompose_emails(
    ctx: CrawlContext, emails: Iterable[str], origin: str, *, user_ids: Iterable[str] = ()
) -> Recomposed:
    """Recompose the users `emails` (and `user_ids`) resolve to, writing only changed items.

    Idempotent: a second call finds every hash unchanged and writes nothing.

    Args:
        ctx: The stores and the Graph session.
        emails: Emails whose badges or identity changed.
        user_ids: Users to recompose as well (e.g. whose directory entry changed).
        origin: Recorded as the cause of any write, e.g. `event:<id>` or `override:<email>`.
    """
    index = ctx.directory_index(ctx.directory.state().version)
    plan = plan_people(index, emails, user_ids)
    now = ctx.clock()
    source = BatchSource(ctx)
    outcomes: dict[PersonAction, list[str]] = {action: [] for action in PersonAction}

    async def run() -> None:
        async with ctx.graph_session() as graph:
            for user_id in plan.user_ids:
                person = await rewrite_person(
                    ctx, graph, index, user_id, origin, wrote=False, touch=True
                )
                outcomes[person.action].append(user_id)

    asyncio.run(run())
    skipped: Counter[str] = Counter()
    for email in plan.unresolved_emails:
        recipient, reasons = explain_email(source, index, email, now, origin)
        ctx.recipients.record(recipient)
        skipped.update(reasons)
    return Recomposed(
        written=tuple(outcomes[PersonAction.PUT]),
        deleted=tuple(outcomes[PersonAction.DELETE]),
        unchanged=tuple(outcomes[PersonAction.KEEP]),
        unresolved=plan.unresolved_emails,
    )
