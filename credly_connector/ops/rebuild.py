"""Rebuild onto a new connection without a gap: provision, crawl into it, swap, remove the old.

The old connection keeps serving profiles until the precedence entry is swapped in place (see
`rebuild_steps`). Every finished step is recorded in a `RebuildStore` row, so a run that was
stopped resumes at the step it was in; one rebuild at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from credly_connector.local.progress import Progress
from credly_connector.ops.answers import Answer, parse_json_object, problem
from credly_connector.ops.rebuild_steps import RebuildSteps
from credly_connector.ops.steps_report import StepsReport
from credly_connector.pipeline.context import CrawlContext
from credly_connector.stores.rebuilds import RebuildConflictError, RebuildRecord, RebuildStore

CLI_WAIT_S = 3600.0
HTTP_WAIT_S = 150.0
"""Within the Functions host's 230 s HTTP limit; the next call resumes where this one ended."""


class RebuildRefusedError(ValueError):
    """The rebuild cannot start or go on as asked (the message names what to change).

    Attributes:
        status: 400 for a bad new id, 409 when another rebuild (or run) is in the way.
    """

    def __init__(self, message: str, status: int = 409) -> None:
        """Why the rebuild was refused, and the HTTP status saying so."""
        super().__init__(message)
        self.status = status


def start_record(ctx: CrawlContext, to_id: str, flag: str = "--to") -> RebuildRecord:
    """The rebuild onto `to_id`: the one under way, or a new one.

    Raises:
        RebuildRefusedError: `to_id` is not a usable new id, or another rebuild is under way.
    """
    current = ctx.options.connection_id
    if not (3 <= len(to_id) <= 32 and to_id.isascii() and to_id.isalnum()):
        raise RebuildRefusedError(
            f"{flag} {to_id!r} must be a new connection id of 3-32 letters and digits",
            400,
        )
    if to_id.casefold() == current.casefold():
        raise RebuildRefusedError(
            f"{flag} {to_id!r} is the connection in use (GRAPH_CONNECTION_ID); name a new one",
            400,
        )
    store = RebuildStore(ctx.tables)
    record = store.get()
    if record is not None and record.complete and record.to_id == current:
        store.clear()  # the last rebuild is done and its connection in use: a new one starts
        record = None
    if record is None:
        return store.save(RebuildRecord(current, to_id, started_at=ctx.clock()))
    if record.to_id == to_id and record.from_id == current:
        return record
    if record.complete:
        raise RebuildRefusedError(
            f"the rebuild onto {record.to_id} is done: set GRAPH_CONNECTION_ID to "
            f"{record.to_id} before rebuilding again"
        )
    raise RebuildRefusedError(
        f"a rebuild from {record.from_id} onto {record.to_id} is under way; finish it with "
        f"{flag} {record.to_id}"
    )


def rebuild_report(
    ctx: CrawlContext,
    to_id: str,
    *,
    wait_s: float = CLI_WAIT_S,
    workers: int = 4,
    progress: Progress | None = None,
    flag: str = "--to",
    clock: Callable[[], float] = time.monotonic,
) -> StepsReport:
    """Run (or resume) the rebuild onto `to_id` for up to about `wait_s` seconds.

    Raises:
        RebuildRefusedError: See `start_record`; also when another run saved progress meanwhile.
    """
    ctx.tables.ensure()
    record = start_record(ctx, to_id, flag)
    try:
        return RebuildSteps(
            ctx, record, wait_s=wait_s, workers=workers, progress=progress, clock=clock
        ).run()
    except RebuildConflictError as error:
        raise RebuildRefusedError(
            f"another rebuild run saved its progress meanwhile ({error})"
        ) from None


def rebuild(ctx: CrawlContext, body: bytes = b"") -> Answer:
    """`POST ops/rebuild` with `{"to": "<new connection id>", "waitSeconds": N}`.

    200 when done (the answer says which setting to change), 202 while a step is under way
    (call again: it resumes), 502 when a step failed, 400/409 when it cannot start.
    """
    parsed = parse_json_object(body, allowed={"to", "waitSeconds"})
    if isinstance(parsed, Answer):
        return parsed
    to_id, wait = parsed.get("to"), parsed.get("waitSeconds", HTTP_WAIT_S)
    if not isinstance(to_id, str) or not to_id:
        return problem(400, '"to" is required: the id of the new connection, e.g. "credlybadges2".')
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 200:
        return problem(400, f'"waitSeconds" must be a number from 0 to 200; got {wait!r}.')
    try:
        report = rebuild_report(ctx, to_id, wait_s=float(wait), flag='"to"')
    except RebuildRefusedError as error:
        return problem(error.status, str(error))
    return report.answer()
