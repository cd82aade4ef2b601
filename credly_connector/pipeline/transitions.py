"""Pure transitions of a crawl record and of the organisation's state, tested with values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from credly_connector.stores.crawls import CrawlKind, CrawlPhase, CrawlRecord, CrawlStatus
from credly_connector.stores.orgstate import OrganizationState
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus

# Records changed while a crawl reads may carry an updated_at before its start; read them again.
WATERMARK_OVERLAP = timedelta(minutes=15)
# What `advanced_by` says once a retry put a failed crawl back to running.
REDRIVE = "retry"


def advance(
    record: CrawlRecord, from_phase: CrawlPhase, to_phase: CrawlPhase, by: str
) -> CrawlRecord | None:
    """`record` moved from `from_phase` to `to_phase` by step `by`; None if not in `from_phase`."""
    if record.final or record.phase != from_phase:
        return None
    return record.with_changes(
        phase=to_phase, advanced_by=by, followup_sent=False, status=CrawlStatus.RUNNING
    )


def owes_followup(record: CrawlRecord, phase: CrawlPhase, by: str) -> bool:
    """Whether step `by` moved the crawl into `phase` and its messages may not all be sent."""
    return (
        not record.final
        and record.phase == phase
        and record.advanced_by == by
        and not record.followup_sent
    )


def failed(record: CrawlRecord, stage: str, message: str, now: datetime) -> CrawlRecord:
    """`record` ended as failed in `stage`."""
    return record.with_changes(
        status=CrawlStatus.FAILED,
        phase=CrawlPhase.DONE,
        finished_at=now,
        failure_stage=stage,
        failure_message=message,
    )


def cancelled(record: CrawlRecord, now: datetime) -> CrawlRecord | None:
    """`record` ended as cancelled by an operator; None when it had already ended.

    The phase it was in stays on the record (what the operator stopped); counts stay empty
    since the finish stage, which totals them, never ran.
    """
    if record.final:
        return None
    return record.with_changes(status=CrawlStatus.CANCELLED, finished_at=now)


def total_counts(steps: Iterable[StepRecord]) -> tuple[dict[str, int], dict[str, int]]:
    """Counters and skip reasons summed over steps."""
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for step in steps:
        counts.update(step.counts)
        reasons.update(step.reasons)
    return dict(sorted(counts.items())), dict(sorted(reasons.items()))


def finished(record: CrawlRecord, steps: list[StepRecord], now: datetime) -> CrawlRecord:
    """`record` ended: succeeded when every step settled as done, else failed with the first."""
    counts, reasons = total_counts(steps)
    summary: dict[str, object] = {**counts, "skipped": reasons}
    failures = [s for s in steps if s.status == StepStatus.FAILED]
    summary["pages_failed"] = sum(1 for s in failures if s.kind == StepKind.PAGE)
    summary["batches_failed"] = sum(1 for s in failures if s.kind == StepKind.BATCH)
    if not failures:
        return record.with_changes(
            status=CrawlStatus.SUCCEEDED, phase=CrawlPhase.DONE, finished_at=now, counts=summary
        )
    first = failures[0]
    stage = CrawlPhase.PAGES if first.kind == StepKind.PAGE else CrawlPhase.PROFILES
    return record.with_changes(
        status=CrawlStatus.FAILED,
        phase=CrawlPhase.DONE,
        finished_at=now,
        counts=summary,
        failure_stage=stage,
        failure_message=f"{first.key}: {first.error}" if first.error else first.key,
        failed_steps=tuple(s.key for s in failures),
    )


def after_success(state: OrganizationState, record: CrawlRecord) -> OrganizationState:
    """The organisation's state once `record` succeeded: watermark capped at start - overlap."""
    started = record.created_at
    candidate = started - WATERMARK_OVERLAP
    watermark = candidate if state.watermark is None else max(state.watermark, candidate)
    full = record.kind == CrawlKind.FULL
    return OrganizationState(
        organization_id=state.organization_id,
        watermark=watermark,
        last_full_success=started if full else state.last_full_success,
        last_incremental_success=state.last_incremental_success if full else started,
        last_success_at=started
        if state.last_success_at is None
        else max(state.last_success_at, started),
        last_crawl_id=record.crawl_id,
    )


def redrive_phase(steps: Iterable[StepRecord]) -> CrawlPhase | None:
    """The phase a failed crawl resumes in to re-drive its failed `steps`; None if none.

    Failed pages come first: once they are read again the plan runs again, and its new
    batches replace every earlier one, failed batches included.
    """
    kinds = {step.kind for step in steps if step.status == StepStatus.FAILED}
    if StepKind.PAGE in kinds:
        return CrawlPhase.PAGES
    if StepKind.BATCH in kinds:
        return CrawlPhase.PROFILES
    return None


def redriven(record: CrawlRecord, phase: str) -> CrawlRecord | None:
    """`record`, failed, running again in `phase` (`pages` or `profiles`); None if not failed.

    The end of the failed run is forgotten (counts, failure); resuming in `pages` forgets the
    planned batches too, since the plan runs again once the pages are read.

    Raises:
        ValueError: For a phase without steps to re-drive.
    """
    if phase not in (CrawlPhase.PAGES, CrawlPhase.PROFILES):
        msg = f"a crawl resumes in pages or profiles, not {phase!r}"
        raise ValueError(msg)
    if record.status != CrawlStatus.FAILED:
        return None
    return record.with_changes(
        status=CrawlStatus.RUNNING,
        phase=phase,
        advanced_by=REDRIVE,
        followup_sent=False,
        finished_at=None,
        counts={},
        failure_stage="",
        failure_message="",
        failed_steps=(),
        total_batches=None if phase == CrawlPhase.PAGES else record.total_batches,
    )
