"""Pure transitions of crawl records, organisation state and profile batching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from credly_connector.directory import DirectoryUser
from credly_connector.pipeline.batching import ProfilePlan, batch_messages, plan_people
from credly_connector.pipeline.messages import MAX_JSON_BYTES, json_size
from credly_connector.pipeline.transitions import (
    WATERMARK_OVERLAP,
    advance,
    after_success,
    finished,
    owes_followup,
)
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.stores.crawls import CrawlPhase, CrawlRecord
from credly_connector.stores.orgstate import OrganizationState
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def record(**changes: object) -> CrawlRecord:
    base = CrawlRecord("c1", "org", "incremental", "timer", T0, phase="pages", status="running")
    return base.with_changes(**changes)


def test_advance_moves_only_from_the_expected_phase() -> None:
    moved = advance(record(), CrawlPhase.PAGES, CrawlPhase.PLAN, "page-3")

    assert moved is not None
    assert (moved.phase, moved.advanced_by, moved.followup_sent) == ("plan", "page-3", False)
    assert advance(record(phase="plan"), CrawlPhase.PAGES, CrawlPhase.PLAN, "page-4") is None
    assert advance(record(status="failed"), CrawlPhase.PAGES, CrawlPhase.PLAN, "page-4") is None


def test_only_the_advancing_step_owes_the_followup_and_only_until_sent() -> None:
    moved = record(phase="plan", advanced_by="page-3")

    assert owes_followup(moved, CrawlPhase.PLAN, "page-3")
    assert not owes_followup(moved, CrawlPhase.PLAN, "page-4")
    assert not owes_followup(moved.with_changes(followup_sent=True), CrawlPhase.PLAN, "page-3")


def test_a_crawl_succeeds_only_when_every_step_did_and_sums_their_counts() -> None:
    steps = [
        StepRecord(
            "c1",
            StepKind.PAGE,
            1,
            StepStatus.DONE,
            counts={"badges_seen": 50},
            reasons={"private": 2},
        ),
        StepRecord(
            "c1",
            StepKind.PAGE,
            2,
            StepStatus.DONE,
            counts={"badges_seen": 10},
            reasons={"private": 1},
        ),
        StepRecord("c1", StepKind.BATCH, 1, StepStatus.DONE, counts={"people_written": 7}),
    ]

    ended = finished(record(), steps, T0 + timedelta(minutes=5))

    assert ended.status == "succeeded"
    assert ended.counts["badges_seen"] == 60
    assert ended.counts["people_written"] == 7
    assert ended.counts["skipped"] == {"private": 3}


def test_a_failed_step_fails_the_crawl_naming_stage_step_and_error() -> None:
    steps = [
        StepRecord("c1", StepKind.PAGE, 1, StepStatus.DONE),
        StepRecord(
            "c1", StepKind.PAGE, 2, StepStatus.FAILED, error="RetryableError: malformed response"
        ),
    ]

    ended = finished(record(), steps, T0)

    assert ended.status == "failed"
    assert ended.failure_stage == "pages"
    assert ended.failed_steps == ("page-2",)
    assert "malformed" in ended.failure_message


def test_the_watermark_is_capped_at_start_minus_overlap_and_never_moves_back() -> None:
    state = OrganizationState("org", watermark=T0 + timedelta(days=1))

    older = after_success(state, record(created_at=T0))
    newer = after_success(OrganizationState("org"), record(created_at=T0))

    assert older.watermark == T0 + timedelta(days=1)
    assert newer.watermark == T0 - WATERMARK_OVERLAP
    assert newer.last_incremental_success == T0
    assert newer.last_full_success is None


def _user(n: int, *aliases: str) -> DirectoryUser:
    return DirectoryUser(
        id=f"00000000-0000-4000-8000-{n:012d}",
        user_principal_name=f"u{n}@contoso.com",
        proxy_addresses=tuple(f"smtp:{a}" for a in aliases),
    )


def test_people_plan_resolves_emails_and_keeps_ambiguous_ones_with_all_candidates() -> None:
    index = DirectoryIndex(
        [_user(1, "shared@contoso.com"), _user(2, "shared@contoso.com"), _user(3)]
    )

    plan = plan_people(
        index, ["u1@contoso.com", "shared@contoso.com", "nobody@contoso.com"], [_user(3).id]
    )

    assert plan.user_ids == (_user(1).id, _user(2).id, _user(3).id)
    assert plan.unresolved_emails == ("nobody@contoso.com", "shared@contoso.com")


def test_batches_are_deterministic_and_every_message_stays_under_the_size_limit() -> None:
    plan = ProfilePlan(
        tuple(f"{n:08d}-0000-4000-8000-000000000000" for n in range(250)),
        tuple(f"{'x' * 240}{n}@example.com" for n in range(400)),
    )

    first = batch_messages("c1", plan, 100)
    again = batch_messages("c1", plan, 100)

    assert first == again
    assert [m.batch for m in first] == list(range(1, len(first) + 1))
    assert sum(len(m.user_ids) for m in first) == 250
    assert sum(len(m.emails) for m in first) == 400
    assert all(json_size(m) <= MAX_JSON_BYTES for m in first)
