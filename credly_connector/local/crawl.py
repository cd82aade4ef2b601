"""`python -m credly_connector crawl`: one crawl to completion on this machine.

It requests the crawl the way the timer does, then drains the real queues by calling the
same handlers the Functions bindings call, and prints what the crawl did.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from credly_connector.local.dispatcher import LEASE_S, LocalDispatcher
from credly_connector.local.progress import Progress
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.launch import request_crawl
from credly_connector.pipeline.messages import START, StartMessage
from credly_connector.stores.crawls import CrawlRecord, CrawlStatus
from credly_connector.stores.steps import StepKind

log = logging.getLogger(__name__)
# A lease whose crawl record is missing this long after it was taken is stale (a crash
# between taking the lease and recording the crawl); younger, the record may be on its way.
STALE_LEASE = timedelta(minutes=1)
CLI = "python -m credly_connector"


@dataclass(frozen=True)
class LocalCrawl:
    """How a local crawl ended.

    Attributes:
        busy_with: The crawl holding the organisation's lease, when none was started.
        resumed: The crawl was one of the organisation's still queued or running, continued.
        interrupted: Ctrl-C stopped the dispatching before the crawl ended.
    """

    record: CrawlRecord | None
    busy_with: str | None = None
    timed_out: bool = False
    resumed: bool = False
    interrupted: bool = False

    @property
    def succeeded(self) -> bool:
        """Whether the crawl ran and succeeded."""
        return self.record is not None and self.record.status == CrawlStatus.SUCCEEDED


def run_crawl(
    ctx: CrawlContext,
    kind: str,
    *,
    trigger: str = "cli",
    organization_id: str | None = None,
    dry_run: bool = False,
    workers: int = 4,
    timeout_s: float = 3600.0,
    progress: Progress | None = None,
    resume: bool = False,
    on_resume: Callable[[CrawlRecord], None] | None = None,
    lease_s: int = LEASE_S,
) -> LocalCrawl:
    """Request a crawl and dispatch its messages until it ends (or `timeout_s` passes).

    Args:
        ctx: The context whose queues and stores the crawl runs on.
        kind: `full` or `incremental`.
        trigger: Who asked, as recorded on the crawl.
        organization_id: The organisation to crawl (the first configured one when omitted).
        dry_run: Run every stage except the Graph writes (a preview).
        workers: Handler threads.
        timeout_s: How long to dispatch before giving up on the crawl's end.
        progress: Redrawn as the crawl's parts are done (None: nothing shown).
        resume: When a crawl of the organisation is still queued or running, continue that
            one here instead (its messages are still on the queues) rather than refuse.
        on_resume: Told which crawl is continued, before its messages are dispatched.
        lease_s: How long a message taken here stays hidden unless renewed: how soon the
            messages of this process come back to others if it is killed.
    """
    ctx.tables.ensure()
    ctx.queues.ensure()
    outcome = request_crawl(ctx, kind, trigger, organization_id, dry_run=dry_run)
    org = organization_id or ctx.options.organizations[0]
    if outcome.crawl is None and free_stale_lease(ctx, org, outcome.busy_with):
        outcome = request_crawl(ctx, kind, trigger, organization_id, dry_run=dry_run)
    if outcome.crawl is not None:
        return drive(
            ctx,
            outcome.crawl,
            workers=workers,
            timeout_s=timeout_s,
            progress=progress,
            lease_s=lease_s,
        )
    busy = ctx.crawls.get(outcome.busy_with) if outcome.busy_with else None
    if not resume or busy is None or busy.final:
        return LocalCrawl(None, busy_with=outcome.busy_with)
    if on_resume is not None:
        on_resume(busy)
    restart_if_lost(ctx, busy, lease_s)
    return drive(ctx, busy, workers=workers, timeout_s=timeout_s, progress=progress, resumed=True)


def free_stale_lease(ctx: CrawlContext, organization_id: str, holder: str | None) -> bool:
    """Release a lease held by a crawl that has ended or was never recorded; whether it did.

    Such a lease is left by a crash between a crawl's end (or its request) and the release,
    and would otherwise refuse every crawl of the organisation until it expires.
    """
    if holder is None:
        return False
    record = ctx.crawls.get(holder)
    if record is not None and not record.final:
        return False
    if record is None:
        lease = ctx.leases.current(organization_id)
        taken_at = None if lease is None else lease.expires_at - ctx.options.lease
        if taken_at is None or ctx.clock() - taken_at < STALE_LEASE:
            return False
    ctx.leases.release(organization_id, holder)
    return True


def restart_if_lost(ctx: CrawlContext, record: CrawlRecord, lease_s: int = LEASE_S) -> bool:
    """Send a queued crawl's start message again when it is not on its queue; whether it did.

    A crash between recording a crawl and sending its start leaves a queued crawl that no
    message would ever move. Only a crawl queued for longer than two leases qualifies, so a
    start message taken by a process that died has had time to reappear; one held by a live
    host would only run its (idempotent) start a second time.
    """
    if record.status != CrawlStatus.QUEUED or ctx.clock() - record.created_at < timedelta(
        seconds=2 * lease_s
    ):
        return False
    waiting = ctx.queues.client(START).peek_messages(max_messages=32)
    if any(record.crawl_id in str(message.content) for message in waiting):
        return False
    ctx.queues.send(StartMessage(record.crawl_id))
    log.warning("crawl %s was queued with no start message; sent it again", record.crawl_id)
    return True


def drive(
    ctx: CrawlContext,
    record: CrawlRecord,
    *,
    workers: int = 4,
    timeout_s: float = 3600.0,
    progress: Progress | None = None,
    resumed: bool = False,
    lease_s: int = LEASE_S,
) -> LocalCrawl:
    """Dispatch the queues' messages here until crawl `record` has ended.

    Ctrl-C stops the dispatching (see `LocalDispatcher`) and answers an interrupted crawl
    instead of raising, so the caller can say how to go on.
    """
    crawl_id = record.crawl_id
    dispatcher = LocalDispatcher(ctx, workers=workers, visibility_timeout_s=lease_s)
    latest: list[CrawlRecord | None] = [record]

    def ended() -> bool:
        latest[0] = ctx.crawls.get(crawl_id)
        return latest[0] is not None and latest[0].final

    # A resumed crawl settled some steps before: counted once per phase, when first shown.
    before: dict[str, int] = {}

    def settled_before(phase: str, kind: str) -> int:
        if not resumed:
            return 0
        if phase not in before:
            before[phase] = sum(1 for _ in ctx.steps.records(crawl_id, kind))
        return before[phase]

    def tick() -> None:
        if progress is None or not progress.due():
            return
        current = latest[0] = ctx.crawls.get(crawl_id)
        if current is None:
            return
        if current.phase == "pages":
            total = current.total_pages or 0
            handled = dispatcher.stats.handled["pages"] + settled_before("pages", StepKind.PAGE)
        elif current.phase == "profiles":
            total = current.total_batches or 0
            handled = dispatcher.stats.handled["profiles"] + settled_before(
                "profiles", StepKind.BATCH
            )
        else:
            total = handled = 0
        progress.show(current, min(handled, total), total)

    try:
        finished = dispatcher.run_until(ended, timeout_s=timeout_s, on_tick=tick)
    except KeyboardInterrupt:
        if progress is not None:
            progress.close()
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: the last record read
            latest[0] = ctx.crawls.get(crawl_id)
        return LocalCrawl(latest[0], resumed=resumed, interrupted=True)
    if progress is not None:
        progress.close()
    return LocalCrawl(ctx.crawls.get(crawl_id), timed_out=not finished, resumed=resumed)


DRY_RUN_NOTE = ", dry run: nothing written to Graph; people counts say what would be"


def summary(record: CrawlRecord) -> str:
    """The closing summary of a crawl, as the CLI prints it."""
    counts = record.counts
    seconds = (
        (record.finished_at - record.created_at).total_seconds()
        if record.finished_at is not None
        else 0.0
    )
    skipped = counts.get("skipped") or {}
    dry = DRY_RUN_NOTE if record.dry_run else ""
    lines = [
        f"crawl {record.crawl_id} ({record.kind}{dry}): {record.status} in {seconds:.1f} s",
        f"  pages          {record.total_pages or 0} ({counts.get('pages_failed', 0)} failed)",
        f"  badges seen    {counts.get('badges_seen', 0)}",
        f"  badges changed {counts.get('badges_changed', 0)}"
        f" (new {counts.get('badges_new', 0)}, updated {counts.get('badges_updated', 0)},"
        f" removed {counts.get('badges_removed', 0)})",
        f"  people         written {counts.get('people_written', 0)},"
        f" deleted {counts.get('people_deleted', 0)},"
        f" unchanged {counts.get('people_unchanged', 0)}",
    ]
    if skipped:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items()))
        lines.append(f"  badges skipped {reasons}")
    if record.failure_stage:
        lines.append(f"  failed in {record.failure_stage}: {record.failure_message}")
    return "\n".join(lines)


def resuming(record: CrawlRecord) -> str:
    """The line `crawl` prints when it continues an unfinished crawl."""
    return f"resuming crawl {record.crawl_id} ({record.kind}, {record.phase})"


def ways_on(crawl_id: str) -> str:
    """How to go on with a crawl that was stopped here before it ended."""
    return f'run "{CLI} crawl" again to resume it, or "{CLI} cancel {crawl_id}" to cancel it'


def print_summary(result: LocalCrawl, out: TextIO) -> None:
    """Print how a local crawl ended."""
    record = result.record
    if record is None:
        if result.busy_with is None:
            out.write("interrupted before the crawl was recorded\n")
            return
        out.write(f"not started: crawl {result.busy_with} of this organisation is running\n")
        out.write(
            f'  run "{CLI} crawl" without --no-resume to continue it here,'
            f' or "{CLI} cancel {result.busy_with}" to cancel it\n'
        )
        return
    if result.interrupted and not record.final:
        out.write(
            f"interrupted: crawl {record.crawl_id} is {record.status}"
            f" (phase {record.phase}); its messages stay on the queues\n"
        )
        out.write(f"  {ways_on(record.crawl_id)}\n")
        return
    if result.timed_out:
        out.write(f"crawl {record.crawl_id} did not end in time ({record.phase})\n")
    out.write(summary(record) + "\n")
