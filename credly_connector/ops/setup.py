"""Idempotent setup as one operation: the storage first, then Graph's steps, reported.

`POST ops/setup` and `python -m credly_connector setup` both run `setup_report`; the Graph
steps are `setup_graph.GraphSetup`'s, their outcome a `setup_report.SetupReport`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from credly_connector.graph.client import GraphClient
from credly_connector.ops.answers import Answer, parse_json_object, problem
from credly_connector.ops.setup_graph import GraphSetup, Progress
from credly_connector.ops.setup_report import CREATED, FAILED, PRESENT, SetupReport, SetupStep
from credly_connector.pipeline.context import CrawlContext
from credly_connector.rules.items import PEOPLE_SCHEMA

POLL_S = 5.0
CLI_WAIT_S = 1200.0
"""Graph takes 5-15 minutes to register a schema."""
HTTP_WAIT_S = 150.0
"""Within the Functions host's 230 s HTTP limit; a later run picks the operation up again."""
__all__ = [
    "CLI_WAIT_S",
    "HTTP_WAIT_S",
    "POLL_S",
    "run_setup",
    "setup",
    "setup_report",
    "storage_step",
]


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
    return await GraphSetup(
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
