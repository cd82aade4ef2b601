"""Credly's incremental filter, whatever Credly does with it: applied, rejected or ignored.

Credly documents `updated_at_min` (date only) for badge templates; for issued badges it may
apply it, refuse it or silently ignore it. Each behaviour is a mode of the Credly stand-in, and
in each the incremental crawl ends exact and its record says what Credly did.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from credly_connector.credly.queries import BadgeQuery
from credly_connector.ops.health import crawl_checks
from credly_connector.pipeline.query import CredlyFilter
from credly_connector.pipeline.start import judge_filter, read_first_page
from devstack.credly.filters import ACCEPT, IGNORE, REJECT, UPDATED_AT_MIN_MODE
from devstack.synthetic.mutations import Mutator
from tests.pipeline.conftest import Pipeline


def badge_list_filters(pipeline: Pipeline) -> list[tuple[str | None, int]]:
    """The `filter` of every badge-list request since the log was cleared, with its status."""
    return [
        (parse_qs(entry.query).get("filter", [None])[0], entry.status)
        for entry in pipeline.stack.credly.api.requests.entries("badges", "GET")
    ]


def crawl_incremental_after_changes(pipeline: Pipeline, mode: str) -> Pipeline:
    """A full crawl, some changes at Credly, the stand-in switched to `mode`, an incremental."""
    assert pipeline.crawl("full").succeeded
    mutator = Mutator(pipeline.world, seed=4)
    for change in (mutator.add_badge, mutator.revoke, mutator.make_private, mutator.replace):
        change()
    pipeline.stack.credly.api.knobs.set_mode(UPDATED_AT_MIN_MODE, mode)
    pipeline.stack.credly.api.requests.clear()
    return pipeline


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        (ACCEPT, CredlyFilter.APPLIED),
        (REJECT, CredlyFilter.REJECTED),
        (IGNORE, CredlyFilter.IGNORED),
    ],
)
def test_the_incremental_crawl_is_exact_whatever_credly_does_with_the_filter(
    make_pipeline, mode: str, outcome: str
) -> None:
    pipeline = crawl_incremental_after_changes(make_pipeline(seed=23), mode)

    result = pipeline.crawl("incremental")

    assert result.succeeded, result.record
    assert pipeline.stored() == pipeline.expected()
    assert result.record is not None
    assert result.record.credly_filter == outcome
    assert result.record.to_json()["credlyFilter"]["outcome"] == outcome


def test_the_filter_is_sent_date_only_and_reads_fewer_pages(make_pipeline) -> None:
    pipeline = crawl_incremental_after_changes(make_pipeline(seed=23, badges=400), ACCEPT)

    result = pipeline.crawl("incremental")

    assert result.succeeded
    assert result.record is not None
    assert result.record.since is not None
    day = result.record.since.astimezone(UTC).strftime("%Y-%m-%d")
    sent = badge_list_filters(pipeline)
    filtered = [status for value, status in sent if value == f"updated_at_min::{day}"]
    # Page 1 filtered and only as many pages as the changed badges fill; no unfiltered
    # count: more badges than the filter let through are stored, so it was applied.
    assert filtered
    assert all(status == 200 for status in filtered)
    assert [value for value, _ in sent].count(None) == 0
    every = len(pipeline.world.credly.badges[pipeline.stack.organization_id])
    assert 0 < result.record.counts["badges_seen"] < every
    assert "changed since the watermark" in result.record.credly_filter_note


def test_a_refused_filter_is_read_again_without_it_and_the_reason_recorded(
    make_pipeline,
) -> None:
    pipeline = crawl_incremental_after_changes(make_pipeline(seed=29), REJECT)

    result = pipeline.crawl("incremental")

    assert result.succeeded, result.record
    assert result.record is not None
    note = result.record.credly_filter_note
    assert "refused the updated_at_min filter" in note
    assert "400" in note
    sent = badge_list_filters(pipeline)
    assert [status for value, status in sent if value is not None] == [400]
    # Every page was read without the filter: page 1 at the start, then each page's step.
    assert result.record.total_pages is not None
    assert sum(1 for value, status in sent if value is None and status == 200) == (
        result.record.total_pages + 1
    )
    assert result.record.counts["badges_seen"] == len(
        pipeline.world.credly.badges[pipeline.stack.organization_id]
    )


def test_an_ignored_filter_is_a_warning_in_the_record_and_in_health(make_pipeline) -> None:
    pipeline = crawl_incremental_after_changes(make_pipeline(seed=31), IGNORE)

    result = pipeline.crawl("incremental")

    assert result.succeeded
    assert result.record is not None
    assert "seems to ignore the updated_at_min filter" in result.record.credly_filter_note
    org = pipeline.stack.organization_id
    checks = {c.name: c for c in crawl_checks(pipeline.settings, lambda: datetime.now(UTC))}
    warning = checks[f"credly filter {org}"]
    assert warning.status == "warn"
    assert warning.ok
    assert result.record.crawl_id in warning.cause
    assert "INCREMENTAL_CRAWL_SCHEDULE" in warning.fix

    pipeline.stack.credly.api.knobs.set_mode(UPDATED_AT_MIN_MODE, None)
    assert pipeline.crawl("incremental").succeeded
    checks = {c.name: c for c in crawl_checks(pipeline.settings, lambda: datetime.now(UTC))}
    assert f"credly filter {org}" not in checks


@pytest.mark.parametrize(
    ("filtered", "unfiltered", "outcome"),
    [
        (3, 240, CredlyFilter.APPLIED),
        (240, 240, CredlyFilter.IGNORED),
        (0, 0, CredlyFilter.APPLIED),
        (239, 240, CredlyFilter.APPLIED),
    ],
)
def test_an_ignored_filter_is_one_that_lets_everything_through(
    filtered: int, unfiltered: int, outcome: str
) -> None:
    assert judge_filter(filtered, unfiltered)[0] == outcome


def test_a_filter_that_lets_nothing_through_needs_no_unfiltered_count(make_pipeline) -> None:
    pipeline: Pipeline = make_pipeline(seed=37, badges=80)
    client = pipeline.ctx.credly_for(pipeline.stack.organization_id)
    tomorrow = datetime.now(UTC) + timedelta(days=1)

    first, outcome, note = read_first_page(client, BadgeQuery(updated_since=tomorrow))

    assert (first.total_count, outcome) == (0, CredlyFilter.APPLIED)
    assert "no badge changed" in note
    assert [value is not None for value, _ in badge_list_filters(pipeline)] == [True]
