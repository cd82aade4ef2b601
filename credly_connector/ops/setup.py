"""Idempotent setup: the people connection, its schema, the profile source and its precedence.

Every step reads first and writes only what is missing or different, so a second run writes
nothing. A registered schema is compared, never sent again (Graph refuses to change a people
connection's schema).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from credly_connector.errors import ConflictError, ConnectorError, RequestError
from credly_connector.graph.client import GraphClient
from credly_connector.graph.provisioning import (
    PEOPLE,
    ProvisioningClient,
    is_first,
    org_wide_setting,
    precedence,
    profile_source_body,
    schema_differences,
    source_changes,
    source_url,
    with_source_first,
)
from credly_connector.ops.answers import Answer, parse_json_object, problem
from credly_connector.ops.checks import describe_error
from credly_connector.pipeline.context import CrawlContext
from credly_connector.rules.items import PEOPLE_SCHEMA

CREATED, PRESENT, UPDATED, UNCHANGED = "created", "already present", "updated", "unchanged"
IN_PROGRESS, FAILED, SKIPPED = "in progress", "failed", "skipped"
DONE = frozenset({CREATED, PRESENT, UPDATED, UNCHANGED})
UPDATE_NOT_ALLOWED = "UpdateNotAllowed"
POLL_S = 5.0
CLI_WAIT_S = 1200.0
"""Graph takes 5-15 minutes to register a schema."""
HTTP_WAIT_S = 150.0
"""Within the Functions host's 230 s HTTP limit; a later run picks the operation up again."""
_RERUN = "run setup again (python -m credly_connector setup, or POST /api/ops/setup)"


@dataclass(frozen=True)
class SetupStep:
    """One step's outcome, with the cause and the fix when it did not finish.

    Attributes:
        state: `created`, `already present`, `updated`, `unchanged` (done), `in progress`,
            `failed` or `skipped`.
    """

    name: str
    state: str
    detail: str
    cause: str = ""
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        """`{name, state, ok, detail, cause, fix}`."""
        return {
            "name": self.name,
            "state": self.state,
            "ok": self.state in DONE,
            "detail": self.detail,
            "cause": self.cause,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class SchemaProgress:
    """A poll of the schema operation, reported while setup waits for it."""

    operation_id: str
    status: str
    elapsed_s: float
    polls: int


IDENTITY_NOTE = (
    "run setup as the app's own identity (POST /api/ops/setup): with the .OwnedBy permissions "
    "only the identity that created the connection may write its items, so after a setup "
    "from a workstation under another identity every item write fails with 403; fix: remove "
    "the connection (python -m credly_connector teardown) and run POST /api/ops/setup."
)
"""Said with every setup report: who must own the connection, and what a later 403 means."""


@dataclass(frozen=True)
class SetupReport:
    """The steps of one setup run, in order."""

    steps: tuple[SetupStep, ...]

    @property
    def ok(self) -> bool:
        """Every step finished."""
        return all(step.state in DONE for step in self.steps)

    @property
    def status(self) -> int:
        """200 when done, 202 while the schema is still registering, 502 on a failure."""
        if self.ok:
            return 200
        return 502 if any(s.state in {FAILED, SKIPPED} for s in self.steps) else 202

    def answer(self) -> Answer:
        """The HTTP answer."""
        steps = [s.to_json() for s in self.steps]
        return Answer(self.status, {"ok": self.ok, "steps": steps, "identity": IDENTITY_NOTE})

    def render(self) -> str:
        """The steps as lines for a terminal."""
        lines = []
        for step in self.steps:
            lines.append(f"{step.name:<15} {step.state:<16} {step.detail}")
            lines.extend(f"{'':<15} {label}: {text}" for label, text in _notes(step))
        lines.append(f"note: {IDENTITY_NOTE}")
        return "\n".join(lines)


def _notes(step: SetupStep) -> list[tuple[str, str]]:
    return [(label, text) for label, text in (("cause", step.cause), ("fix", step.fix)) if text]


Progress = Callable[[SchemaProgress], None]


class _Setup:
    def __init__(
        self,
        graph: GraphClient,
        connection_id: str,
        web_url: str,
        schema: Sequence[Mapping[str, Any]],
        *,
        wait_s: float,
        poll_s: float,
        on_progress: Progress | None,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        with_precedence: bool = True,
    ) -> None:
        self.graph = ProvisioningClient(graph)
        self.with_precedence = with_precedence
        self.connection_id = connection_id
        self.web_url = web_url
        self.schema = schema
        self.wait_s, self.poll_s = wait_s, poll_s
        self.on_progress = on_progress
        self.sleep, self.clock = sleep, clock
        self.connection_state = ""

    async def run(self) -> SetupReport:
        connection = await self._guard("connection", self.connection)
        if connection.state == FAILED:
            rest = ("schema", "profile source", "precedence")
            return SetupReport((connection, *(_skipped(name, "connection") for name in rest)))
        # The profile source does not depend on the schema: register it even if that failed.
        schema = await self._guard("schema", self.schema_step)
        source = await self._guard("profile source", self.profile_source)
        if not self.with_precedence:  # a rebuild swaps the precedence entry itself, later
            return SetupReport((connection, schema, source))
        if source.state == FAILED:
            order = _skipped("precedence", "profile source")
        else:
            order = await self._guard("precedence", self.precedence)
        return SetupReport((connection, schema, source, order))

    async def _guard(self, name: str, step: Callable[[], Awaitable[SetupStep]]) -> SetupStep:
        try:
            return await step()
        except ConnectorError as error:
            cause, fix = describe_error(error, f"fix the cause, then {_RERUN}")
            return SetupStep(name, FAILED, "Graph refused or failed the request", cause, fix)

    async def connection(self) -> SetupStep:
        found = await self.graph.get_connection(self.connection_id)
        state = PRESENT
        if found is None:
            try:
                found, state = await self.graph.create_connection(self.connection_id), CREATED
            except ConflictError:  # created meanwhile, or Graph's 503-then-409 quirk
                found = await self.graph.get_connection(self.connection_id)
        if found is None:
            raise ConflictError(f"Connection {self.connection_id} answered 409 but cannot be read")
        self.connection_state = str(found.get("state") or "")
        category = found.get("contentCategory")
        if category != PEOPLE:
            return SetupStep(
                "connection",
                FAILED,
                f"connection {self.connection_id} exists",
                f"its contentCategory is {category!r}, not {PEOPLE!r}",
                "set GRAPH_CONNECTION_ID to an unused id (or delete that connection), then "
                + _RERUN,
            )
        detail = f"connection {self.connection_id} (people, state {self.connection_state})"
        return SetupStep("connection", state, detail)

    async def schema_step(self) -> SetupStep:
        registered = await self.graph.get_schema(self.connection_id)
        if registered is not None:
            differences = schema_differences(self.schema, registered.get("properties") or [])
            if not differences:
                names = ", ".join(str(p["name"]) for p in self.schema)
                return SetupStep("schema", PRESENT, f"registered and as expected ({names})")
            return SetupStep(
                "schema",
                FAILED,
                "a different schema is registered; it was left as it is",
                "; ".join(differences),
                "a people connection's schema cannot be changed: delete the connection (or set "
                f"GRAPH_CONNECTION_ID to a new id), then {_RERUN}",
            )
        try:
            operation_id = await self.graph.register_schema(self.connection_id, self.schema)
        except RequestError as error:
            if error.code != UPDATE_NOT_ALLOWED or self.connection_state == "ready":
                raise
            return SetupStep(
                "schema",
                IN_PROGRESS,
                "a schema registration started earlier is still running",
                str(error),
                f"wait a few minutes, then {_RERUN}",
            )
        return await self._follow(operation_id)

    async def _follow(self, operation_id: str) -> SetupStep:
        started, polls = self.clock(), 0
        while True:
            operation = await self.graph.get_operation(self.connection_id, operation_id)
            polls += 1
            elapsed = self.clock() - started
            if self.on_progress is not None:
                self.on_progress(SchemaProgress(operation_id, operation.status, elapsed, polls))
            if operation.status == "completed":
                return SetupStep("schema", CREATED, f"registered (operation {operation_id})")
            if operation.status == "failed":
                return SetupStep(
                    "schema",
                    FAILED,
                    f"Graph's schema operation {operation_id} failed",
                    operation.error or "Graph gave no error",
                    f"fix what Graph names, then {_RERUN}; a failed registration leaves no "
                    "schema behind",
                )
            if elapsed + self.poll_s > self.wait_s:
                return SetupStep(
                    "schema",
                    IN_PROGRESS,
                    f"operation {operation_id} still {operation.status} after {elapsed:.0f} s",
                    "Graph takes 5-15 minutes to register a schema",
                    f"{_RERUN} later: it compares the registered schema",
                )
            await self.sleep(self.poll_s)

    async def profile_source(self) -> SetupStep:
        wanted = profile_source_body(self.connection_id, self.web_url)
        detail = f"sourceId {self.connection_id}, webUrl {wanted['webUrl']}"
        current = await self.graph.get_profile_source(self.connection_id)
        if current is None:
            try:
                await self.graph.create_profile_source(wanted)
                return SetupStep("profile source", CREATED, detail)
            except ConflictError:
                current = await self.graph.get_profile_source(self.connection_id)
        changes = source_changes(current or {}, wanted)
        if not changes:
            return SetupStep("profile source", PRESENT, detail)
        await self.graph.update_profile_source(self.connection_id, changes)
        return SetupStep("profile source", UPDATED, f"{detail} ({', '.join(sorted(changes))})")

    async def precedence(self) -> SetupStep:
        url = source_url(self.connection_id)
        setting = org_wide_setting(await self.graph.property_settings())
        if setting is None:
            await self.graph.create_org_wide_setting([url])
            return SetupStep("precedence", CREATED, "organisation-wide setting: Credly first")
        urls = precedence(setting)
        if is_first(urls, url):
            return SetupStep("precedence", UNCHANGED, f"Credly first of {len(urls)} source(s)")
        ordered = with_source_first(urls, url)
        await self.graph.set_precedence(str(setting["id"]), ordered)
        kept = len(ordered) - 1
        return SetupStep("precedence", UPDATED, f"Credly first, {kept} other source(s) kept")


def _skipped(name: str, after: str) -> SetupStep:
    return SetupStep(name, SKIPPED, f"not tried: the {after} step failed")


async def run_setup(
    graph: GraphClient,
    connection_id: str,
    web_url: str,
    *,
    schema: Sequence[Mapping[str, Any]] = PEOPLE_SCHEMA,
    wait_s: float = CLI_WAIT_S,
    poll_s: float = POLL_S,
    on_progress: Progress | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    with_precedence: bool = True,
) -> SetupReport:
    """Provision the connection, schema, profile source and precedence; idempotent.

    Args:
        graph: An open Graph client (its retries and error translation apply).
        connection_id: `GRAPH_CONNECTION_ID`.
        web_url: `CREDLY_WEB_URL`, the profile source's link.
        schema: The schema properties to register.
        wait_s: How long to follow the schema operation before reporting `in progress`.
        poll_s: Seconds between operation polls.
        on_progress: Told after every poll of the schema operation.
        sleep: Awaitable sleep between polls.
        clock: Monotonic seconds, for `wait_s`.
        with_precedence: Also put the source first in the precedence (False: leave it out).

    Returns:
        The report; its steps never raise (a failure is a `failed` step with its cause).
    """
    return await _Setup(
        graph,
        connection_id,
        web_url,
        schema,
        wait_s=wait_s,
        poll_s=poll_s,
        on_progress=on_progress,
        sleep=sleep,
        clock=clock,
        with_precedence=with_precedence,
    ).run()


def setup_report(
    ctx: CrawlContext, *, wait_s: float = CLI_WAIT_S, on_progress: Progress | None = None
) -> SetupReport:
    """Create the storage tables and queues, then run setup against Graph (blocking)."""
    storage = storage_step(ctx)

    async def run() -> SetupReport:
        async with ctx.graph_session() as graph:
            return await run_setup(
                graph,
                ctx.options.connection_id,
                ctx.options.web_url,
                wait_s=wait_s,
                on_progress=on_progress,
            )

    graph = asyncio.run(run())
    return SetupReport((storage, *graph.steps))


def storage_step(ctx: CrawlContext) -> SetupStep:
    """Create every table and queue the connector uses that does not exist yet."""
    try:
        created = ctx.tables.ensure() + ctx.queues.ensure()
    except Exception as error:  # reported as the step's cause
        return SetupStep(
            "storage",
            FAILED,
            "could not create the tables and queues",
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
            "check AzureWebJobsStorage (or the identity's Storage Table/Queue Data roles)",
        )
    if created:
        return SetupStep("storage", CREATED, f"{created} tables and queues created")
    return SetupStep("storage", PRESENT, "every table and queue exists")


def setup(ctx: CrawlContext, body: bytes = b"") -> Answer:
    """`POST ops/setup` with an optional `{"waitSeconds": N}` (0..200, default 150).

    200 when every step is done, 202 while the schema is still registering (call again
    later), 502 when a step failed; the body lists each step's state, cause and fix.
    """
    parsed = parse_json_object(body, allowed={"waitSeconds"})
    if isinstance(parsed, Answer):
        return parsed
    wait = parsed.get("waitSeconds", HTTP_WAIT_S)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 200:
        return problem(400, f'"waitSeconds" must be a number from 0 to 200; got {wait!r}.')
    return setup_report(ctx, wait_s=float(wait)).answer()
