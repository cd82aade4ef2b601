"""Teardown: the precedence entry, the profile source, the connection (and the storage) removed.

Without confirmation it only lists what it would remove. Every step reads first, so a second
run finds everything `already absent`; a connection Graph deletes asynchronously (202 and an
operation) is followed until it is gone, or reported `in progress` for a later run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from azure.core.exceptions import AzureError, ResourceNotFoundError

from credly_connector.errors import ConnectorError, NotFoundError
from credly_connector.graph.profile_source import source_url, without_source
from credly_connector.graph.provisioning import ProvisioningClient
from credly_connector.ops.answers import Answer, parse_json_object, problem
from credly_connector.ops.setup import HTTP_WAIT_S, POLL_S
from credly_connector.ops.setup_report import FAILED, IN_PROGRESS, SetupStep
from credly_connector.ops.steps_report import (
    ABSENT,
    REMOVED,
    WOULD_REMOVE,
    StepsReport,
    graph_failed,
)
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.queues import QUEUE_NAMES
from credly_connector.stores.budgets import ROLE as BUDGETS_ROLE
from credly_connector.stores.rebuilds import RebuildStore
from credly_connector.stores.tables import TABLE_NAMES

CLI_WAIT_S = 600.0
_RERUN = "run teardown again with the same confirmation"


@dataclass
class GraphTeardown:
    """The Graph steps of removing one connection; `confirmed=False` only looks."""

    graph: ProvisioningClient
    connection_id: str
    confirmed: bool
    wait_s: float = HTTP_WAIT_S
    poll_s: float = POLL_S
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic

    async def run(self) -> tuple[SetupStep, ...]:
        """Precedence, profile source, connection: each step tried even if one before failed."""
        steps = []
        for name, step in (
            ("precedence", self.precedence),
            ("profile source", self.profile_source),
            ("connection", self.connection),
        ):
            try:
                steps.append(await step())
            except ConnectorError as error:
                steps.append(graph_failed(name, error, _RERUN))
        return tuple(steps)

    async def precedence(self) -> SetupStep:
        """Our URL out of every setting's `prioritizedSourceUrls`, the others kept in order."""
        url = source_url(self.connection_id)
        listing = [
            (str(s["id"]), urls)
            for s in await self.graph.property_settings()
            for urls in [[str(u) for u in s.get("prioritizedSourceUrls") or []]]
            if without_source(urls, url) != urls
        ]
        if not listing:
            return SetupStep("precedence", ABSENT, "no setting lists the Credly source")
        detail = f"the Credly source from {len(listing)} setting(s)"
        if not self.confirmed:
            return SetupStep("precedence", WOULD_REMOVE, detail)
        for setting_id, urls in listing:
            await self.graph.set_precedence(setting_id, without_source(urls, url))
        return SetupStep("precedence", REMOVED, detail + ", other sources kept in order")

    async def profile_source(self) -> SetupStep:
        """The profile source whose sourceId is the connection id."""
        detail = f"sourceId {self.connection_id}"
        if await self.graph.get_profile_source(self.connection_id) is None:
            return SetupStep("profile source", ABSENT, detail)
        if not self.confirmed:
            return SetupStep("profile source", WOULD_REMOVE, detail)
        removed = await self.graph.delete_profile_source(self.connection_id)
        return SetupStep("profile source", REMOVED if removed else ABSENT, detail)

    async def connection(self) -> SetupStep:
        """The connection and, with it, its items; followed while Graph deletes it."""
        detail = f"connection {self.connection_id} and all its items"
        found = await self.graph.get_connection(self.connection_id)
        if found is None:
            return SetupStep("connection", ABSENT, f"connection {self.connection_id}")
        if not self.confirmed:
            return SetupStep("connection", WOULD_REMOVE, f"{detail} (state {found.get('state')})")
        operation_id = await self.graph.delete_connection(self.connection_id)
        if not operation_id:
            return SetupStep("connection", REMOVED, detail)
        return await self._follow(operation_id, detail)

    async def _follow(self, operation_id: str, detail: str) -> SetupStep:
        started = self.clock()
        while True:
            try:
                operation = await self.graph.get_operation(self.connection_id, operation_id)
            except NotFoundError:  # the connection is gone, and its operations with it
                return SetupStep("connection", REMOVED, detail)
            if operation.status == "completed":
                return SetupStep("connection", REMOVED, detail)
            if operation.status == "failed":
                return SetupStep(
                    "connection",
                    FAILED,
                    f"Graph's delete operation {operation_id} failed",
                    operation.error or "Graph gave no error",
                    f"fix what Graph names, then {_RERUN}",
                )
            elapsed = self.clock() - started
            if elapsed + self.poll_s > self.wait_s:
                return SetupStep(
                    "connection",
                    IN_PROGRESS,
                    f"Graph is still deleting it (operation {operation_id}, {elapsed:.0f} s)",
                    "Graph deletes a connection and its items in the background",
                    f"{_RERUN} later to see it gone",
                )
            await self.sleep(self.poll_s)


def storage_names(ctx: CrawlContext) -> tuple[list[str], list[str]]:
    """The connector's table and queue names (poison queues included)."""
    # The budgets table is created on first use, not with the others.
    tables = [ctx.tables.name(role) for role in (*TABLE_NAMES, BUDGETS_ROLE)]
    queues = [ctx.queues.name(s, poison=p) for s in QUEUE_NAMES for p in (False, True)]
    return tables, queues


def storage_step(ctx: CrawlContext, *, confirmed: bool) -> SetupStep:
    """The connector's tables and queues: listed, or deleted (absent ones are skipped)."""
    try:
        return _storage(ctx, confirmed=confirmed)
    except Exception as error:  # reported as the step's cause, as setup's storage step does
        first = str(error).splitlines()[0] if str(error) else ""
        return SetupStep(
            "storage",
            FAILED,
            "could not list or delete the tables and queues",
            f"{type(error).__name__}: {first}",
            "check AzureWebJobsStorage (or the identity's Storage Table/Queue Data roles), "
            f"then {_RERUN}",
        )


def _storage(ctx: CrawlContext, *, confirmed: bool) -> SetupStep:
    tables, queues = storage_names(ctx)
    existing_tables = {t.name for t in ctx.tables.service.list_tables()} & set(tables)
    existing_tables |= set(ctx.seen.crawl_tables())  # full crawls' marks, one table each
    existing_queues = {q.name for q in ctx.queues.service.list_queues()} & set(queues)
    detail = f"{len(existing_tables)} table(s) and {len(existing_queues)} queue(s)"
    if not existing_tables and not existing_queues:
        return SetupStep("storage", ABSENT, "no table or queue of the connector exists")
    if not confirmed:
        return SetupStep("storage", WOULD_REMOVE, detail)
    for name in sorted(existing_tables):
        with contextlib.suppress(ResourceNotFoundError):
            ctx.tables.service.delete_table(name)
    for name in sorted(existing_queues):
        with contextlib.suppress(ResourceNotFoundError):
            ctx.queues.service.delete_queue(name)
    return SetupStep("storage", REMOVED, detail + " deleted")


def teardown_report(
    ctx: CrawlContext,
    *,
    confirm: str | None,
    storage: bool = False,
    wait_s: float = CLI_WAIT_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> StepsReport:
    """List (no `confirm`) or remove the configured connection's footprint.

    Args:
        ctx: The context of the configured connection and storage.
        confirm: The connection id, repeated by the administrator; None only lists.
        storage: Also the connector's tables and queues (after the Graph steps).
        wait_s: How long to follow Graph's delete operation before reporting `in progress`.
        sleep: Awaitable sleep between polls of the delete operation.
        clock: Monotonic seconds, for `wait_s`.

    Raises:
        ValueError: `confirm` is not the configured connection id.
    """
    connection_id = ctx.options.connection_id
    if confirm is not None and confirm != connection_id:
        raise ValueError(f"is {confirm!r}, not the configured connection {connection_id!r}")
    confirmed = confirm is not None

    async def run() -> tuple[SetupStep, ...]:
        async with ctx.graph_session() as graph:
            client = ProvisioningClient(graph)
            teardown = GraphTeardown(
                client, connection_id, confirmed, wait_s, POLL_S, sleep=sleep, clock=clock
            )
            return await teardown.run()

    steps = asyncio.run(run())
    left = _rebuild_target(ctx)  # read before --storage deletes its record
    if storage:
        steps = (*steps, storage_step(ctx, confirmed=confirmed))
    facts = {"connectionId": connection_id, "confirmed": confirmed}
    notes = _next(connection_id, confirmed, storage)
    if left:
        notes += (
            f"a rebuild onto connection {left} was started and is left as it is: finish it "
            f"(rebuild --to {left}) or remove it too (teardown with GRAPH_CONNECTION_ID={left})",
        )
    return StepsReport(steps, facts, notes)


def _rebuild_target(ctx: CrawlContext) -> str:
    """The new connection of an unfinished rebuild ('' when there is none)."""
    try:
        record = RebuildStore(ctx.tables).get()
    except AzureError:  # no storage yet, removed by an earlier teardown, or unreachable
        return ""
    if record is None or record.complete:
        return ""
    return record.to_id


def _next(connection_id: str, confirmed: bool, storage: bool) -> tuple[str, ...]:
    if not confirmed:
        flag = " --storage" if storage else ""
        return (
            f"to remove, run python -m credly_connector teardown --confirm {connection_id}{flag}"
            f' (or POST /api/ops/teardown with {{"confirm": "{connection_id}"}})',
        )
    return (
        "stop or delete the function app: its timers and webhooks would fail on the removed "
        "connection",
    )


def teardown(ctx: CrawlContext, body: bytes = b"") -> Answer:
    """`POST ops/teardown` with `{"confirm": "<connection id>", "storage": bool}`.

    Without `confirm`, 200 and what would be removed; with it, 200 when done, 202 while
    Graph still deletes the connection, 502 when a step failed; 400 for a wrong `confirm`.
    """
    parsed = parse_json_object(body, allowed={"confirm", "storage", "waitSeconds"})
    if isinstance(parsed, Answer):
        return parsed
    confirm, storage = parsed.get("confirm"), parsed.get("storage", False)
    wait = parsed.get("waitSeconds", HTTP_WAIT_S)
    if confirm is not None and not isinstance(confirm, str):
        return problem(400, f'"confirm" must be the connection id as a string; got {confirm!r}.')
    if not isinstance(storage, bool):
        return problem(400, f'"storage" must be true or false; got {storage!r}.')
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 200:
        return problem(400, f'"waitSeconds" must be a number from 0 to 200; got {wait!r}.')
    try:
        report = teardown_report(ctx, confirm=confirm, storage=storage, wait_s=float(wait))
    except ValueError as error:
        return problem(
            400,
            f'"confirm" {error}.',
            fix=f'send {{"confirm": "{ctx.options.connection_id}"}} to remove that connection',
        )
    return report.answer()
