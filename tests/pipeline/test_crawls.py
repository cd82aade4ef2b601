"""End-to-end crawls through Azurite queues and tables against both stand-ins."""

from __future__ import annotations

from devstack.synthetic.mutations import Mutator
from tests.pipeline.conftest import Pipeline


def test_full_crawl_writes_exactly_the_items_the_rules_require(make_pipeline) -> None:
    pipeline: Pipeline = make_pipeline()

    result = pipeline.crawl("full")

    assert result.succeeded, result.record
    expected = pipeline.expected()
    assert expected, "the world should give some people an item"
    assert pipeline.stored() == expected
    assert pipeline.writes() == len(expected)
    assert result.record is not None
    counts = result.record.counts
    assert counts["people_written"] == len(expected)
    assert counts["badges_seen"] == len(
        pipeline.world.credly.badges[pipeline.stack.organization_id]
    )


def test_incremental_crawl_picks_up_each_kind_of_change(make_pipeline) -> None:
    pipeline: Pipeline = make_pipeline(seed=11)
    assert pipeline.crawl("full").succeeded
    mutator = Mutator(pipeline.world, seed=3)
    changes = [
        mutator.add_badge(),
        mutator.revoke(),
        mutator.make_private(),
        mutator.replace(),
        mutator.accept_pending(),
        mutator.disable_user(),
        mutator.unlicense_user(),
        mutator.remove_user(),
        mutator.add_alias(),
    ]
    writes_before = pipeline.writes() + pipeline.deletes()

    result = pipeline.crawl("incremental")

    assert result.succeeded, result.record
    assert pipeline.stored() == pipeline.expected()
    touched = {c.person_index for c in changes}
    assert 0 < pipeline.writes() + pipeline.deletes() - writes_before <= len(touched)


def test_an_incremental_crawl_without_changes_writes_nothing(make_pipeline) -> None:
    pipeline: Pipeline = make_pipeline(seed=5)
    assert pipeline.crawl("full").succeeded
    assert pipeline.crawl("incremental").succeeded
    writes, deletes = pipeline.writes(), pipeline.deletes()

    result = pipeline.crawl("incremental")

    assert result.succeeded
    assert (pipeline.writes(), pipeline.deletes()) == (writes, deletes)
    assert result.record is not None
    assert result.record.counts.get("badges_changed", 0) == 0


def test_a_second_full_crawl_rewrites_nothing_and_removes_vanished_badges(make_pipeline) -> None:
    pipeline: Pipeline = make_pipeline(seed=9)
    assert pipeline.crawl("full").succeeded
    Mutator(pipeline.world, seed=4).delete_badge()
    writes = pipeline.writes()

    result = pipeline.crawl("full")

    assert result.succeeded, result.record
    assert result.record is not None
    assert result.record.counts.get("badges_removed") == 1
    assert pipeline.stored() == pipeline.expected()
    assert pipeline.writes() + pipeline.deletes() - writes <= 1


def test_a_second_crawl_request_while_one_runs_is_refused(make_pipeline) -> None:
    from credly_connector.pipeline.launch import request_crawl

    pipeline: Pipeline = make_pipeline(badges=60)
    pipeline.ctx.tables.ensure()
    pipeline.ctx.queues.ensure()

    first = request_crawl(pipeline.ctx, "full", "test")
    second = request_crawl(pipeline.ctx, "incremental", "test")

    assert first.started
    assert not second.started
    assert first.crawl is not None
    assert second.busy_with == first.crawl.crawl_id
