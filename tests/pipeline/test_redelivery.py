"""At-least-once delivery: every handler run twice, messages shuffled and replayed late.

The issue's promise is that "every handler run twice on the same message, and messages
delivered out of order, leave the same state". These tests drive a crawl without the local
dispatcher: each round takes every visible message off all five stage queues, shuffles them
with a seeded generator, mixes in copies of messages handled in earlier rounds (a delete that
got lost, so the queue delivers the message again much later), and runs each handler twice.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from azure.storage.queue import QueueMessage

from credly_connector.pipeline.context import DEFAULT_MAX_DEQUEUE_COUNT, CrawlContext, Delivery
from credly_connector.pipeline.dispatch import handle_message
from credly_connector.pipeline.launch import request_crawl
from credly_connector.pipeline.messages import PAGES, PROFILES, STAGES
from credly_connector.stores.crawls import CrawlRecord, CrawlStatus
from devstack.synthetic.mutations import Mutator
from tests.pipeline.conftest import Pipeline

BADGES = 150  # three pages of 50
MAX_ROUNDS = 40
# Long enough that a received message stays hidden while its round runs.
VISIBILITY_S = 300
# Item writes are paced in production; the pacing is not what these tests are about.
FAST_WRITES = {"GRAPH_WRITE_RATE": "1000"}
# Below the host's maximum, so a failing handler raises instead of settling its step as failed.
LAST_COUNT = DEFAULT_MAX_DEQUEUE_COUNT - 1


@dataclass
class Delivered:
    """A message as the queue delivered it, kept to be delivered again later."""

    stage: str
    content: str
    dequeue_count: int
    message: QueueMessage | None = field(default=None, compare=False, repr=False)


@dataclass
class Redeliverer:
    """Drives crawls round by round, running every handler twice and replaying old messages."""

    ctx: CrawlContext
    rng: random.Random
    replay_share: float = 0.3
    history: list[Delivered] = field(default_factory=list)

    def crawl(self, kind: str) -> CrawlRecord:
        """Request a crawl of `kind` and deliver its messages until it ends and queues are empty."""
        self.ctx.tables.ensure()
        self.ctx.queues.ensure()
        outcome = request_crawl(self.ctx, kind, "test")
        assert outcome.crawl is not None, outcome
        crawl_id = outcome.crawl.crawl_id
        for _ in range(MAX_ROUNDS):
            fresh = self._receive_all()
            stale = [d for d in self.history if self.rng.random() < self.replay_share]
            batch = fresh + stale
            self.rng.shuffle(batch)
            for delivered in batch:
                self.deliver_twice(delivered)
                if delivered.message is not None:
                    self.ctx.queues.client(delivered.stage).delete_message(delivered.message)
                    self.history.append(Delivered(delivered.stage, delivered.content, 2))
            record = self.ctx.crawls.get(crawl_id)
            assert record is not None
            if record.final and not fresh:
                return record
        pytest.fail(f"crawl {crawl_id} did not end within {MAX_ROUNDS} rounds")

    def deliver_twice(self, delivered: Delivered) -> None:
        """Run the stage's handler twice on one message, as two deliveries would."""
        for extra in range(2):
            delivery = Delivery(min(delivered.dequeue_count + extra, LAST_COUNT))
            handle_message(self.ctx, delivered.stage, delivered.content, delivery)

    def _receive_all(self) -> list[Delivered]:
        """Every visible message of every stage, hidden until its round deletes it."""
        found: list[Delivered] = []
        for stage in STAGES:
            client = self.ctx.queues.client(stage)
            for message in client.receive_messages(
                messages_per_page=32, visibility_timeout=VISIBILITY_S
            ):
                count = message.dequeue_count or 1
                found.append(Delivered(stage, str(message.content), count, message))
        return found


def queued_messages(ctx: CrawlContext) -> int:
    """How many messages wait on the stage queues (visible ones)."""
    return sum(len(ctx.queues.client(stage).peek_messages(max_messages=32)) for stage in STAGES)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duplicated_and_shuffled_deliveries_converge_to_the_oracle(
    make_pipeline: Callable[..., Pipeline], seed: int
) -> None:
    # Given a world, when a full and then an incremental crawl run under redelivery,
    # then each leaves exactly the oracle's items, written once.
    pipeline = make_pipeline(badges=BADGES, seed=seed + 20, env=FAST_WRITES)
    driver = Redeliverer(pipeline.ctx, random.Random(seed))

    full = driver.crawl("full")

    assert full.status == CrawlStatus.SUCCEEDED, full
    expected = pipeline.expected()
    assert expected, "the world should give some people an item"
    assert pipeline.stored() == expected
    # The second run of a batch finds the content hash it just wrote: no duplicate write.
    assert (pipeline.writes(), pipeline.deletes()) == (len(expected), 0)
    assert full.counts["people_written"] == len(expected)
    organization = pipeline.stack.organization_id
    assert full.counts["badges_seen"] == len(pipeline.world.credly.badges[organization])
    assert queued_messages(pipeline.ctx) == 0

    mutator = Mutator(pipeline.world, seed=seed)
    # Deletions are left out: only a full crawl can notice a badge Credly no longer lists.
    changes = [
        mutator.add_badge(),
        mutator.revoke(),
        mutator.make_private(),
        mutator.replace(),
        mutator.accept_pending(),
        mutator.disable_user(),
        mutator.unlicense_user(),
        mutator.add_alias(),
    ]
    before = pipeline.writes() + pipeline.deletes()

    incremental = driver.crawl("incremental")

    assert incremental.status == CrawlStatus.SUCCEEDED, incremental
    assert incremental.kind == "incremental"
    assert incremental.counts.get("badges_changed", 0) > 0
    assert pipeline.stored() == pipeline.expected()
    touched = {change.person_index for change in changes}
    assert pipeline.writes() + pipeline.deletes() - before <= len(touched)
    assert queued_messages(pipeline.ctx) == 0


def test_a_start_and_a_plan_in_slices_converge_under_redelivery(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given slices with no time of their own: every start and plan invocation sends one
    # message or plans one batch, then hands the rest to a message of its own
    pipeline = make_pipeline(badges=100, seed=34, env={**FAST_WRITES, "PROFILE_BATCH_SIZE": "25"})
    pipeline.ctx.options = dataclasses.replace(pipeline.ctx.options, slice_s=0.0)
    # (fewer replays than the other tests: a plan in slices is a long chain of messages)
    driver = Redeliverer(pipeline.ctx, random.Random(4), replay_share=0.1)

    # When a full crawl runs under redelivery, then it leaves the oracle's items, each
    # written once
    full = driver.crawl("full")
    assert full.status == CrawlStatus.SUCCEEDED, full
    expected = pipeline.expected()
    assert pipeline.stored() == expected
    assert (pipeline.writes(), pipeline.deletes()) == (len(expected), 0)
    assert queued_messages(pipeline.ctx) == 0

    # When badges vanish from Credly and a second full crawl sweeps them under redelivery,
    # then it removed exactly those and wrote only their people
    mutator = Mutator(pipeline.world, seed=4)
    removed = [mutator.delete_badge(), mutator.delete_badge()]
    before = pipeline.writes() + pipeline.deletes()
    again = driver.crawl("full")
    assert again.status == CrawlStatus.SUCCEEDED, again
    assert again.counts.get("badges_removed") == len(removed)
    assert pipeline.stored() == pipeline.expected()
    assert pipeline.writes() + pipeline.deletes() - before <= len(removed)
    assert queued_messages(pipeline.ctx) == 0


def test_messages_delivered_again_after_the_crawl_ended_change_nothing(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=BADGES, seed=4, env=FAST_WRITES)
    driver = Redeliverer(pipeline.ctx, random.Random(4), replay_share=0.0)
    finished = driver.crawl("full")
    assert finished.status == CrawlStatus.SUCCEEDED, finished
    stages = {d.stage for d in driver.history}
    assert {PAGES, PROFILES} <= stages, stages
    stored, writes, deletes = pipeline.stored(), pipeline.writes(), pipeline.deletes()
    sent = pipeline.ctx.queues.sent

    for delivered in driver.history:
        driver.deliver_twice(delivered)

    after = pipeline.ctx.crawls.get(finished.crawl_id)
    assert after == finished
    assert (pipeline.writes(), pipeline.deletes()) == (writes, deletes)
    assert pipeline.stored() == stored
    assert pipeline.ctx.queues.sent == sent
    assert queued_messages(pipeline.ctx) == 0
