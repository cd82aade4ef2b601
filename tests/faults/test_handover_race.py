"""The hand-over from the pages stage to the plan stage when the plan message is quick.

`settle()` moves the crawl to `plan`, sends the plan message, then saves `followup_sent`.
A host can deliver the plan message in between: the plan handler then reads the record
before that save and writes after it. Its conditional save fails, and it must not take
that for "a duplicate delivery got there first", or the crawl waits in `plan` forever
with no message left to move it on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.dispatch import handle_message
from credly_connector.pipeline.messages import PAGES, PLAN, PROFILES, START
from credly_connector.stores.crawls import CrawlKind, CrawlStatus, CrawlStore
from devstack.synthetic.mutations import Mutator
from tests.faults.conftest import FAST_WRITES, Waits, quick_context, run_to_end, start
from tests.pipeline.conftest import Pipeline


@dataclass
class SettleDuringPlan:
    """An overrides source that, when first read by the armed crawl's plan handler (after
    it read the crawl record), saves the record as `settle()` does after sending."""

    crawls: CrawlStore
    crawl_id: str = ""
    fired: bool = False

    def __call__(self) -> Mapping[str, str]:
        if self.crawl_id and not self.fired:
            self.fired = True
            record = self.crawls.get(self.crawl_id)
            assert record is not None
            assert self.crawls.save(record.with_changes(followup_sent=True)) is not None
        return {}


def deliver(ctx: CrawlContext, stage: str) -> int:
    """Take every visible message of a stage off its queue and handle it once; how many."""
    client = ctx.queues.client(stage)
    messages = list(client.receive_messages(messages_per_page=32, visibility_timeout=300))
    for message in messages:
        handle_message(ctx, stage, str(message.content), Delivery())
        client.delete_message(message)
    return len(messages)


def test_a_plan_message_handled_before_its_sender_saved_still_moves_the_crawl_on(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given an incremental crawl whose pages are all stored, at the moment between
    # settle()'s sending of the plan message and its saving of followup_sent (its plan
    # reads the identity overrides after the record, where the race is staged; a full
    # crawl's plan walks the stores in slices and moves on with a conditional update)
    pipeline = make_pipeline(badges=100, seed=71, env=FAST_WRITES)
    race = SettleDuringPlan(pipeline.ctx.crawls)
    ctx = quick_context(pipeline.settings, Waits(), overrides=race)
    assert run_to_end(ctx, start(ctx, CrawlKind.FULL)).status == CrawlStatus.SUCCEEDED
    Mutator(pipeline.world, seed=71).add_badge()
    crawl_id = start(ctx, CrawlKind.INCREMENTAL)
    assert deliver(ctx, START) == 1
    pages = deliver(ctx, PAGES)
    assert pages >= 1
    settled = ctx.crawls.get(crawl_id)
    assert settled is not None
    assert (settled.phase, settled.advanced_by, settled.followup_sent) == (
        "plan",
        f"page-{pages}",
        True,
    )
    assert ctx.crawls.save(settled.with_changes(followup_sent=False)) is not None

    # When the plan message is handled while settle()'s save lands.
    race.crawl_id = crawl_id
    assert deliver(ctx, PLAN) == 1

    # Then the crawl moved on to its profile batches, and runs to the oracle's items.
    assert race.fired
    planned = ctx.crawls.get(crawl_id)
    assert planned is not None
    assert planned.phase == "profiles", planned
    assert ctx.queues.client(PROFILES).peek_messages(max_messages=32)
    record = run_to_end(ctx, crawl_id)
    assert record.status == CrawlStatus.SUCCEEDED, record
    assert pipeline.stored() == pipeline.expected()
