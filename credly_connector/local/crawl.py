"""`python -m credly_connector crawl`: one crawl to completion on this machine.

It requests the crawl the way the timer does, then drains the real queues by calling the
same handlers the Functions bindings call, and prints what the crawl did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.local.progress import Progress
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.launch import request_crawl
from credly_connector.stores.crawls import SUCCEEDED, CrawlRecord


@dataclass(frozen=True)
class LocalCrawl:
    """How a local crawl ended."""

    record: CrawlRecord | None
    busy_with: str | None = None
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        """Whether the crawl ran and succeeded."""
        return self.record is not None and self.record.status == SUCCEEDED


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
) -> LocalCrawl:
    """Request a crawl and dispatch its messages until it ends (or `timeout_s` passes).

    Args:
        organization_id: The organisation to crawl (the first configured one when omitted).
        dry_run: Run every stage except the Graph writes (a preview).
    """
    ctx.tables.ensure()
    ctx.queues.ensure()
    outcome = request_crawl(ctx, kind, trigger, organization_id, dry_run=dry_run)
    if outcome.crawl is None:
        return LocalCrawl(None, busy_with=outcome.busy_with)
    crawl_id = outcome.crawl.crawl_id
    dispatcher = LocalDispatcher(ctx, workers=workers)
    latest: list[CrawlRecord | None] = [outcome.crawl]

    def ended() -> bool:
        latest[0] = ctx.crawls.get(crawl_id)
        return latest[0] is not None and latest[0].final

    def tick() -> None:
        if progress is None or not progress.due():
            return
        record = latest[0] = ctx.crawls.get(crawl_id)
        if record is None:
            return
        if record.phase == "pages":
            total = record.total_pages or 0
            handled = dispatcher.stats.handled["pages"]
        elif record.phase == "profiles":
            total = record.total_batches or 0
            handled = dispatcher.stats.handled["profiles"]
        else:
            total = handled = 0
        progress.show(record, min(handled, total), total)

    finished = dispatcher.run_until(ended, timeout_s=timeout_s, on_tick=tick)
    if progress is not None:
        progress.close()
    return LocalCrawl(ctx.crawls.get(crawl_id), timed_out=not finished)


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


def print_summary(result: LocalCrawl, out: TextIO) -> None:
    """Print how a local crawl ended."""
    if result.record is None:
        out.write(f"not started: crawl {result.busy_with} of this organisation is running\n")
        return
    if result.timed_out:
        out.write(f"crawl {result.record.crawl_id} did not end in time ({result.record.phase})\n")
    out.write(summary(result.record) + "\n")
