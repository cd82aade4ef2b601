"""A full crawl leaves every email with rows marked, and its organisation complete; then
every writer marks the emails of the rows it writes."""

from __future__ import annotations

from collections.abc import Callable

from credly_connector.pipeline.context import CrawlContext
from credly_connector.runtime import build_context
from credly_connector.stores.badges import IDS_ROLE, BadgeStore
from devstack.synthetic.mutations import Mutator
from tests.pipeline.conftest import Pipeline

FAST_WRITES = {"GRAPH_WRITE_RATE": "1000"}


def _emails_with_rows(ctx: CrawlContext, organization_id: str) -> set[str]:
    return {key.email for key in ctx.badges.keys(organization_id)}


def _unmarked(ctx: CrawlContext, organization_id: str, emails: set[str]) -> set[str]:
    """The emails without a mark, read as a new process reads them (nothing remembered)."""
    marks = BadgeStore(ctx.tables, [organization_id]).marks
    return {email for email in emails if not marks.has(organization_id, email)}


def _complete(ctx: CrawlContext, organization_id: str) -> bool:
    """Whether the organisation is marked complete, read as a new process reads it."""
    return BadgeStore(ctx.tables, [organization_id]).marks.complete(organization_id)


def _unmark(ctx: CrawlContext, organization_id: str) -> int:
    """Delete every mark (the store as it was before marks existed); how many there were."""
    where = "RowKey ge '%!' and RowKey lt '%\"'"
    return ctx.tables.delete_partition(IDS_ROLE, organization_id, where)


def test_full_crawls_mark_every_email_with_rows_on_a_new_and_on_an_unmarked_store(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=150, seed=21, env=FAST_WRITES)
    ctx, org = pipeline.ctx, pipeline.stack.organization_id

    # A first crawl finds no row: every row it writes is marked, and so is the organisation.
    assert pipeline.crawl("full").succeeded
    emails = _emails_with_rows(ctx, org)
    assert _complete(ctx, org)
    assert _unmarked(ctx, org, emails) == set()

    # Rows stored before marks existed, and this version deployed over them (a new process
    # remembers nothing): no mark at all, the organisation not complete.
    assert _unmark(ctx, org) == len(emails) + 1
    pipeline.ctx = ctx = build_context(pipeline.settings)
    assert not ctx.badges.marks.complete(org)

    # A full crawl that changes nothing marks every email it walks, then the organisation.
    writes = pipeline.writes()
    result = pipeline.crawl("full")
    assert result.succeeded
    assert pipeline.writes() == writes
    assert _complete(ctx, org)
    assert _unmarked(ctx, org, emails) == set()
    assert pipeline.stored() == pipeline.expected()


def test_once_complete_new_rows_are_marked_by_the_pages_that_write_them(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=80, seed=22, env=FAST_WRITES)
    ctx, org = pipeline.ctx, pipeline.stack.organization_id
    assert pipeline.crawl("full").succeeded
    before = _emails_with_rows(ctx, org)
    mutator = Mutator(pipeline.world, seed=22)
    for _ in range(20):
        mutator.add_badge()

    assert pipeline.crawl("incremental").succeeded

    after = _emails_with_rows(ctx, org)
    assert after - before  # some of the new badges went to emails without rows
    assert _unmarked(ctx, org, after) == set()
    assert pipeline.stored() == pipeline.expected()
