"""The profile stage's async writer: each plan written to Graph as it comes, recorded in groups.

Graph writes run concurrently on one event loop, paced by the Graph client; table work runs
on the batch's thread pool. Writes are recorded `COMMIT_EVERY` at a time, each conditional
on the row its plan read: a person someone else recorded meanwhile is composed and written
again (`pipeline/rewrites.py`), so the item ends as the badge store says.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from credly_connector.graph.client import GraphClient
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.person_plan import PersonAction, PersonPlan
from credly_connector.pipeline.person_writes import commit_people, preview_person, write_person
from credly_connector.pipeline.rewrites import rewrite_person
from credly_connector.rules.identity import DirectoryIndex

# Writes recorded together, in one transaction: after a crash, at most this many people
# whose write succeeded are written again.
COMMIT_EVERY = 25


class BatchWriter:
    """Writes a batch's plans to Graph (a dry run previews them instead) and records them.

    Attributes:
        counts: People written, deleted, unchanged and without an item.
        reasons: Skipped badges per reason.
        failures: What rewriting people recorded meanwhile by someone else raised.
    """

    def __init__(
        self,
        ctx: CrawlContext,
        crawl_id: str,
        index: DirectoryIndex,
        graph: GraphClient | None,
        pool: ThreadPoolExecutor,
    ) -> None:
        """Write for crawl `crawl_id` through `graph` (None: a dry run), tables on `pool`."""
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.failures: list[BaseException] = []
        self._ctx = ctx
        self._crawl_id = crawl_id
        self._index = index
        self._graph = graph
        self._pool = pool
        self._written: list[PersonPlan] = []

    async def apply(self, plan: PersonPlan) -> None:
        """Write one plan (or preview it), count it, and record the writes once enough wait."""
        if self._graph is None:  # a dry run: a preview instead of the write
            await asyncio.get_running_loop().run_in_executor(
                self._pool, preview_person, self._ctx, self._crawl_id, plan
            )
        else:
            await write_person(self._ctx, self._graph, plan)
            self._written.append(plan)
        self.counts[outcome_of(plan)] += 1
        self.reasons.update(plan.reasons)
        await self.commit(COMMIT_EVERY)

    async def commit(self, least: int = 1) -> None:
        """Record the writes done so far once `least` wait; rewrite the refused."""
        graph = self._graph
        if graph is None or len(self._written) < least:
            return
        plans = self._written[:]
        self._written.clear()
        refused = await asyncio.get_running_loop().run_in_executor(
            self._pool, commit_people, self._ctx, self._crawl_id, plans
        )
        results = await asyncio.gather(
            *(self._again(graph, plan) for plan in refused), return_exceptions=True
        )
        self.failures.extend(r for r in results if isinstance(r, BaseException))

    async def _again(self, graph: GraphClient, plan: PersonPlan) -> None:
        """Someone else recorded this person since the batch read them: again."""
        again = await rewrite_person(
            self._ctx, graph, self._index, plan.user_id, self._crawl_id, wrote=True, touch=False
        )
        self.counts[outcome_of(plan)] -= 1
        self.counts[outcome_of(again)] += 1


def outcome_of(plan: PersonPlan) -> str:
    """The counter a plan's outcome goes to."""
    if plan.action == PersonAction.PUT:
        return "people_written"
    if plan.action == PersonAction.DELETE:
        return "people_deleted"
    return "people_unchanged" if plan.existed else "people_without_item"
