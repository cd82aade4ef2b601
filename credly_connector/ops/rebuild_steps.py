"""The rebuild's steps: provision, crawl into the new connection, catch up, swap, remove, record.

The full crawls write into the new connection through their own queues (so the Functions
host's triggers, still writing into the old connection, never take their messages) and their
own people table (what the new connection holds). People the live writers recorded meanwhile
are written again before the swap and once more before the people tables change places.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from credly_connector.errors import ConnectorError
from credly_connector.graph.profile_source import (
    org_wide_setting,
    source_url,
    with_source_first,
    with_source_replaced,
)
from credly_connector.graph.provisioning import ProvisioningClient
from credly_connector.local.crawl import LocalCrawl, run_crawl
from credly_connector.local.progress import Progress
from credly_connector.ops.rebuild_context import delete_queues, rebuild_context, switch_setting
from credly_connector.ops.setup import run_setup
from credly_connector.ops.setup_report import FAILED, IN_PROGRESS, SKIPPED, SetupStep
from credly_connector.ops.steps_report import EARLIER, StepsReport, graph_failed
from credly_connector.ops.teardown import GraphTeardown
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.recompose import recompose_emails
from credly_connector.stores.people import GONE
from credly_connector.stores.rebuilds import STEPS, RebuildRecord, RebuildStore

TRIGGER = "rebuild"
"""The `trigger` of the rebuild's crawls: a stopped run knows its own crawl by it."""
T = TypeVar("T")
_RERUN = "run the rebuild again with the same --to (it resumes)"


def _done(name: str) -> SetupStep:
    return SetupStep(name, EARLIER, "finished by an earlier run")


class RebuildSteps:
    """The steps of one rebuild run, from the first its record does not hold as finished."""

    def __init__(
        self,
        ctx: CrawlContext,
        record: RebuildRecord,
        *,
        wait_s: float,
        workers: int,
        progress: Progress | None,
        clock: Callable[[], float],
    ) -> None:
        """The steps of `record`'s rebuild, given `wait_s` seconds from now (`clock`)."""
        self.ctx, self.record = ctx, record
        self.new = rebuild_context(ctx, record.to_id)
        self.store = RebuildStore(ctx.tables)
        self.deadline = clock() + wait_s
        self.workers, self.progress, self.clock = workers, progress, clock

    def run(self) -> StepsReport:
        """Run the steps not finished yet, in order, until one fails or is still under way."""
        steps: list[SetupStep] = []
        actions = {
            "provision": self.provision,
            "crawl": self.crawl,
            "catch up": self.catch_up,
            "swap": self.swap,
            "remove old": self.remove_old,
            "records": self.records,
        }
        for name in STEPS:
            # Live writers go on writing into the old connection until the swap: catch up again.
            again = name == "catch up" and not self.record.done("swap")
            if self.record.done(name) and not again:
                steps.append(_done(name))
                continue
            try:
                step = actions[name]()
            except ConnectorError as error:
                step = graph_failed(name, error, _RERUN)
            steps.append(step)
            if step.state in {FAILED, IN_PROGRESS}:
                break
            self.record = self.store.save(self.record.finishing(name))
        steps.extend(SetupStep(n, SKIPPED, "not reached yet") for n in STEPS[len(steps) :])
        return StepsReport(tuple(steps), self._facts(), self._next(steps))

    def _remaining(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def _crawl(self, organization_id: str, *, resume: bool) -> LocalCrawl:
        """The rebuild's full crawl of one organisation into the new connection."""
        return run_crawl(
            self.new,
            "full",
            trigger=TRIGGER,
            organization_id=organization_id,
            workers=self.workers,
            timeout_s=self._remaining(),
            progress=self.progress,
            resume=resume,
        )

    def _graph(self, run: Callable[[ProvisioningClient], Awaitable[T]]) -> T:
        async def go() -> T:
            async with self.ctx.graph_session() as graph:
                return await run(ProvisioningClient(graph))

        return asyncio.run(go())

    def provision(self) -> SetupStep:
        """Set up the new connection: its schema and profile source (not the precedence)."""

        async def go() -> SetupStep:
            async with self.ctx.graph_session() as graph:
                report = await run_setup(
                    graph,
                    self.record.to_id,
                    self.ctx.options.web_url,
                    wait_s=self._remaining(),
                    with_precedence=False,
                )
            for step in report.steps:
                if not report.ok and step.state in {FAILED, IN_PROGRESS}:
                    return replace(step, name="provision", detail=f"{step.name}: {step.detail}")
            return SetupStep(
                "provision",
                "created",
                f"connection {self.record.to_id}, its schema and profile source "
                "(not in the precedence yet)",
            )

        return asyncio.run(go())

    def crawl(self) -> SetupStep:
        """Full crawls of every organisation into the new connection (resumed when stopped)."""
        done = []
        for org in self.ctx.options.organizations:
            known = self.record.crawls.get(org)
            previous = self.ctx.crawls.get(known) if known else None
            if previous is not None and previous.status == "succeeded":
                done.append(str(known))
                continue
            result = self._crawl(org, resume=False)
            if result.record is None and result.busy_with:
                busy = self.ctx.crawls.get(result.busy_with)
                if busy is None or busy.trigger != TRIGGER:
                    return SetupStep(
                        "crawl",
                        IN_PROGRESS,
                        f"organisation {org} is busy with crawl {result.busy_with}",
                        "the rebuild's crawl waits for the organisation's running crawl",
                        f"{_RERUN} once crawl {result.busy_with} has ended",
                    )
                # The rebuild's own crawl, left by a run that stopped: continue it here.
                result = self._crawl(org, resume=True)
            if result.record is not None:
                crawls = {**self.record.crawls, org: result.record.crawl_id}
                self.record = self.store.save(replace(self.record, crawls=crawls))
            if result.interrupted:
                raise KeyboardInterrupt
            if not result.succeeded:
                crawl_id = result.record.crawl_id if result.record else "?"
                if result.record is not None and not result.record.final:
                    return SetupStep(
                        "crawl",
                        IN_PROGRESS,
                        f"full crawl {crawl_id} of organisation {org} is still running",
                        "the time for this run is up",
                        _RERUN,
                    )
                return SetupStep(
                    "crawl",
                    FAILED,
                    f"full crawl {crawl_id} of organisation {org} did not succeed",
                    f"see python -m credly_connector status {crawl_id}",
                    f"fix the cause, then {_RERUN} (a new full crawl starts)",
                )
            done.append(result.record.crawl_id if result.record else "")
        return SetupStep("crawl", "created", f"full crawl(s) {', '.join(done)} wrote every item")

    def catch_up(self) -> SetupStep:
        """Write again into the new connection whom the live writers recorded meanwhile."""
        live = {r.user_id: r for r in self.ctx.people.records()}
        ours = {r.user_id: r for r in self.new.people.records()}
        users = {
            user_id
            for user_id in live.keys() | ours.keys()
            if user_id not in live
            or user_id not in ours
            or live[user_id].content_hash != ours[user_id].content_hash
            or live[user_id].written_at >= self.record.started_at
        }
        done = recompose_emails(self.new, (), f"rebuild:{self.record.to_id}", user_ids=users)
        detail = f"{len(users)} people looked at again: {len(done.written)} written"
        return SetupStep("catch up", "updated", f"{detail}, {len(done.deleted)} deleted")

    def swap(self) -> SetupStep:
        """Put the new profile source in the old one's place in the precedence."""
        old, new = source_url(self.record.from_id), source_url(self.record.to_id)

        async def go(graph: ProvisioningClient) -> SetupStep:
            settings = await graph.property_settings()
            swapped = 0
            for setting in settings:
                urls = [str(u) for u in setting.get("prioritizedSourceUrls") or []]
                wanted = with_source_replaced(urls, old, new)
                if wanted != urls:
                    await graph.set_precedence(str(setting["id"]), wanted)
                    swapped += 1
            if swapped:
                detail = f"the new source took the old one's place in {swapped} setting(s)"
                return SetupStep("swap", "updated", detail)
            if any(
                new.casefold() in map(str.casefold, s.get("prioritizedSourceUrls") or [])
                for s in settings
            ):
                return SetupStep("swap", "unchanged", "the new source is in the precedence")
            # The old source was never listed (its setup did not finish): list the new first.
            org_wide = org_wide_setting(settings)
            if org_wide is None:
                await graph.create_org_wide_setting([new])
            else:
                urls = [str(u) for u in org_wide.get("prioritizedSourceUrls") or []]
                await graph.set_precedence(str(org_wide["id"]), with_source_first(urls, new))
            return SetupStep("swap", "updated", "the new source put first (the old was not listed)")

        return self._graph(go)

    def remove_old(self) -> SetupStep:
        """Remove the old connection, its items and its profile source."""

        async def go(graph: ProvisioningClient) -> tuple[SetupStep, ...]:
            return await GraphTeardown(
                graph, self.record.from_id, True, wait_s=self._remaining()
            ).run()

        steps = self._graph(go)
        for step in steps:
            if step.state in {FAILED, IN_PROGRESS}:
                return replace(step, name="remove old", detail=f"{step.name}: {step.detail}")
        return SetupStep(
            "remove old",
            "removed",
            f"connection {self.record.from_id}, its items and its profile source",
        )

    def records(self) -> SetupStep:
        """The live people table becomes what the new connection holds; the rebuild's goes."""
        shadow = self.new.tables.name("people")
        if not list(self.ctx.tables.service.query_tables(f"TableName eq '{shadow}'")):
            # A run stopped after deleting it had copied it already: only the queues are left.
            delete_queues(self.new)
            return SetupStep("records", "updated", "recorded by an earlier run")
        self.catch_up()  # whom the live writers wrote since the last catch-up
        ours = list(self.new.people.records())
        held = {r.user_id for r in ours}
        gone = [
            replace(r, content_hash=GONE, badge_ids=())
            for r in self.ctx.people.records()
            if r.user_id not in held
        ]
        self.ctx.people.put_many([*ours, *gone])
        self.ctx.tables.service.delete_table(shadow)
        delete_queues(self.new)
        return SetupStep(
            "records", "updated", f"{len(ours)} people recorded for the new connection"
        )

    def _facts(self) -> dict[str, object]:
        return {
            "from": self.record.from_id,
            "to": self.record.to_id,
            "finished": list(self.record.finished),
            "crawls": dict(self.record.crawls),
        }

    def _next(self, steps: list[SetupStep]) -> tuple[str, ...]:
        if not self.record.complete:
            return (f"{_RERUN} (python -m credly_connector rebuild --to {self.record.to_id})",)
        return switch_setting(self.record.to_id)
