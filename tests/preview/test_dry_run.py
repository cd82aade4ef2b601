"""Dry-run crawls end to end: nothing reaches Graph, previews match what a real crawl writes."""

from __future__ import annotations

from dataclasses import replace

from devstack.synthetic.mutations import Mutator
from tests.pipeline.conftest import Pipeline
from tests.preview.conftest import badge_ids, crawl, pending, previews_by_item, raw_items


def _mutate(pipeline: Pipeline, seed: int) -> None:
    mutator = Mutator(pipeline.world, seed=seed)
    mutator.add_badge(state="accepted")
    mutator.revoke()
    mutator.make_private()
    mutator.replace()
    mutator.accept_pending()
    mutator.disable_user()
    mutator.remove_user()
    mutator.add_alias()


def test_a_dry_full_crawl_writes_nothing_and_previews_what_a_real_one_then_writes(
    make_pipeline,
) -> None:
    pipeline: Pipeline = make_pipeline(seed=7)
    org = pipeline.stack.organization_id

    dry = crawl(pipeline, "full", dry_run=True)

    assert dry.dry_run
    assert (pipeline.writes(), pipeline.deletes()) == (0, 0)
    assert pipeline.stored() == {}
    assert list(pipeline.ctx.people.user_ids()) == []
    state = pipeline.ctx.orgstate.get(org)
    assert (state.watermark, state.last_full_success, state.last_success_at) == (None, None, None)
    previews = previews_by_item(pipeline, dry.crawl_id)
    assert previews
    assert {p.action for p in previews.values()} == {"create"}
    assert dry.counts["people_written"] == len(previews)

    real = crawl(pipeline, "full")

    assert real.counts["people_written"] == len(previews)
    assert raw_items(pipeline) == {item_id: p.item for item_id, p in previews.items()}
    assert pipeline.stored() == pipeline.expected()
    for item_id, preview in previews.items():
        assert set(preview.badges_added) == badge_ids(preview.item), item_id
        assert preview.badges_removed == ()


def test_a_dry_run_after_a_real_crawl_shows_exactly_the_people_that_change(
    make_pipeline,
) -> None:
    pipeline: Pipeline = make_pipeline(seed=11)
    crawl(pipeline, "full")
    before = raw_items(pipeline)
    writes = (pipeline.writes(), pipeline.deletes())
    _mutate(pipeline, seed=3)

    first = crawl(pipeline, "incremental", dry_run=True)
    # A second dry run still shows them: the first one's changes are pending, not consumed.
    second = crawl(pipeline, "incremental", dry_run=True)

    assert (pipeline.writes(), pipeline.deletes()) == writes
    assert raw_items(pipeline) == before
    changed = {k: p for k, p in previews_by_item(pipeline, first.crawl_id).items() if p.changed}
    again = {k: p for k, p in previews_by_item(pipeline, second.crawl_id).items() if p.changed}
    assert changed
    assert again == {k: replace(p, crawl_id=second.crawl_id) for k, p in changed.items()}

    crawl(pipeline, "incremental")

    after = raw_items(pipeline)
    really_changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert set(changed) == really_changed
    for item_id, preview in changed.items():
        assert preview.item == after.get(item_id), item_id
        assert preview.action == (
            "create" if item_id not in before else "delete" if item_id not in after else "update"
        )
        old, new = badge_ids(before.get(item_id)), badge_ids(after.get(item_id))
        assert set(preview.badges_added) == new - old, item_id
        assert set(preview.badges_removed) == old - new, item_id


def test_a_dry_run_then_a_real_incremental_crawl_ends_as_a_plain_incremental_would(
    make_pipeline,
) -> None:
    pipeline: Pipeline = make_pipeline(seed=5)
    org = pipeline.stack.organization_id
    crawl(pipeline, "full")
    state = pipeline.ctx.orgstate.get(org)
    people = {u: pipeline.ctx.people.get(u) for u in pipeline.ctx.people.user_ids()}
    _mutate(pipeline, seed=8)

    crawl(pipeline, "incremental", dry_run=True)

    # The dry run consumed the changes from the badge store and the directory snapshot...
    assert pipeline.ctx.orgstate.get(org) == state
    assert {u: pipeline.ctx.people.get(u) for u in pipeline.ctx.people.user_ids()} == people
    owed = pending(pipeline)
    assert owed.emails or owed.user_ids

    real = crawl(pipeline, "incremental")

    # ...and the real crawl after it still ends with every item the rules require.
    assert real.counts.get("badges_changed", 0) == 0
    assert pipeline.stored() == pipeline.expected()
    assert pipeline.ctx.orgstate.get(org).watermark != state.watermark
    assert pending(pipeline).emails == frozenset()
    assert pending(pipeline).user_ids == frozenset()


def test_a_dry_full_crawl_after_a_real_one_without_changes_previews_no_change(
    make_pipeline,
) -> None:
    pipeline: Pipeline = make_pipeline(badges=120, seed=13)
    crawl(pipeline, "full")
    writes = pipeline.writes()

    dry = crawl(pipeline, "full", dry_run=True)

    previews = previews_by_item(pipeline, dry.crawl_id)
    assert set(previews) == set(raw_items(pipeline))
    assert {p.action for p in previews.values()} == {"unchanged"}
    assert all(not p.badges_added and not p.badges_removed for p in previews.values())
    assert pipeline.writes() == writes
