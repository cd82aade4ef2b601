"""A soak: twenty incremental crawls in a row, each after random changes, by one worker process.

Every crawl must leave exactly the oracle's items; the tables must hold no more than the data
(plus a crawl's own bookkeeping, which must not grow with the number of crawls run before);
and the long-running worker's live objects must not grow from crawl to crawl.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from credly_connector.pipeline.launch import request_crawl
from credly_connector.stores.crawls import CrawlRecord, CrawlStatus
from devstack.crashworker import CrashWorker
from devstack.synthetic.mutations import Mutation, Mutator, NoEligibleTargetError
from tests.crashes.conftest import Workers, row_counts
from tests.pipeline.conftest import CRAWL_TIMEOUT_S, Pipeline

CRAWLS = 20
CHANGES = 4
# Crawls before the worker's memory counts as warmed up (caches, connection pools filled).
WARM_UP = 4
# Live objects may wander a little between samples (threads, pools); a leak grows steadily.
OBJECT_SLACK = 0.005
# A crawl's own bookkeeping, kept after it ended (the other tables hold the data).
HISTORY = ("crawls", "crawlsteps", "crawlsets")


def random_change(mutator: Mutator, rng: random.Random) -> Mutation:
    """One seeded change of a badge or a directory user.

    Deleting a badge outright is left out: only a full crawl can notice what Credly stopped
    listing, so an incremental crawl is not expected to.
    """
    changes: list[Callable[[], Mutation]] = [
        mutator.accept_pending,
        mutator.revoke,
        mutator.make_private,
        mutator.make_public,
        mutator.replace,
        mutator.add_badge,
        mutator.expire,
        mutator.disable_user,
        mutator.enable_user,
        mutator.unlicense_user,
        mutator.remove_user,
        mutator.add_alias,
    ]
    for _ in range(50):
        try:
            return rng.choice(changes)()
        except NoEligibleTargetError:
            continue
    raise NoEligibleTargetError("no change found a target")


def badge_pairs(pipeline: Pipeline) -> set[tuple[str, str]]:
    """The (badge id, recipient email) pairs Credly lists now."""
    badges = pipeline.world.credly.badges[pipeline.stack.organization_id].values()
    return {(badge.id, badge.recipient_email.strip().lower()) for badge in badges}


def shown_badges(pipeline: Pipeline) -> set[str]:
    """The ids of the badges on the profiles Graph holds."""
    return {
        entry["webUrl"].rsplit("/", 1)[1]
        for item in pipeline.stored().values()
        for entry in item["certifications"] + item["awards"]
    }


def crawl(pipeline: Pipeline, worker: CrashWorker, kind: str) -> CrawlRecord:
    """Request a crawl, and wait for the worker process to run it to its end."""
    ctx = pipeline.ctx
    outcome = request_crawl(ctx, kind, "test")
    assert outcome.crawl is not None, outcome
    crawl_id = outcome.crawl.crawl_id
    deadline = time.monotonic() + CRAWL_TIMEOUT_S
    while time.monotonic() < deadline:
        record = ctx.crawls.get(crawl_id)
        # The finish stage releases the lease just after it saved the final status.
        lease = ctx.leases.current(record.organization_id) if record else None
        if record is not None and record.final and (lease is None or lease.holder != crawl_id):
            return record
        assert worker.process.poll() is None, f"the worker ended:\n{worker.log_tail()}"
        time.sleep(0.05)
    raise AssertionError(f"crawl {outcome.crawl.crawl_id} did not end in time")


def test_twenty_incremental_crawls_stay_exact_with_bounded_tables_and_memory(
    workers: Callable[..., Workers],
) -> None:
    # Given a world crawled once in full by a long-running worker process,
    stack = workers(badges=200, seed=61)
    pipeline = stack.pipeline
    world = pipeline.world
    worker = stack.start(poll_s=0.01)
    assert crawl(pipeline, worker, "full").status == CrawlStatus.SUCCEEDED, worker.log_tail()
    # Changes happen a moment ago, a millisecond apart, so none is dated in the future.
    mutator = Mutator(world, seed=61, step=timedelta(milliseconds=1))
    rng = random.Random(61)
    tables: list[dict[str, int]] = []
    samples: list[dict[str, Any]] = []
    # (badge, recipient email) pairs Credly lists: a badge moved to another email leaves its
    # old row when the crawl reads it at the new one.
    pairs = badge_pairs(pipeline)
    # Crawl number -> its changes and the items that differ from the oracle's (asserted last,
    # so a difference does not hide what the other checks find).
    inexact: dict[int, tuple[list[str], list[str]]] = {}

    for number in range(1, CRAWLS + 1):
        # when the world changes at random and an incremental crawl runs, every time,
        world.clock = max(world.clock, datetime.now(UTC) - timedelta(minutes=1))
        changes = [random_change(mutator, rng).kind.value for _ in range(CHANGES)]
        pairs = badge_pairs(pipeline)
        record = crawl(pipeline, worker, "incremental")

        # then each crawl succeeds with exactly the oracle's items (checked at the end),
        assert record.status == CrawlStatus.SUCCEEDED, (number, record, worker.log_tail())
        expected, stored = pipeline.expected(), pipeline.stored()
        if stored != expected:
            differ = [i for i in set(stored) | set(expected) if stored.get(i) != expected.get(i)]
            inexact[number] = (changes, sorted(differ))
        # the data tables hold the data: a row per badge and email it was read with, per
        # person with an item (and at most one tombstone per person whose item was deleted),
        # per directory user (and the delta link); the lease is free; the organisation has one
        # state row.
        rows = row_counts(pipeline)
        assert rows["badges"] == len(pairs), number
        assert len(list(pipeline.ctx.people.records())) == len(expected), number
        assert rows["people"] <= len(world.people), number
        assert rows["directory"] == len(list(world.directory.users())) + 1, number
        assert (rows["leases"], rows["orgstate"]) == (0, 1), number
        tables.append(rows)
        samples.append(worker.sample())

    figures = {
        "rows": {table: [rows[table] for rows in tables] for table in tables[0]},
        "objects": [sample["objects"] for sample in samples],
        "rss_kb": [sample["rss_kb"] for sample in samples],
    }
    # The bookkeeping a crawl leaves behind does not grow with the crawls before it (these
    # tables do grow by a few rows per crawl: nothing removes old crawls' rows).
    for table in HISTORY:
        early = tables[WARM_UP][table] - tables[0][table]
        late = tables[-1][table] - tables[-1 - WARM_UP][table]
        assert late <= early * 2 + 10, (table, early, late, figures)
    # The long-running worker holds as many live objects after the last crawl as after the
    # warm-up.
    warm, last = samples[WARM_UP], samples[-1]
    grown = {
        kind: count - warm["types"].get(kind, 0)
        for kind, count in last["types"].items()
        if count > warm["types"].get(kind, 0)
    }
    assert last["objects"] <= warm["objects"] * (1 + OBJECT_SLACK), (grown, figures)
    assert inexact == {}


def test_a_badge_revoked_after_it_moved_to_a_new_alias_leaves_the_profile(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Found by the soak: after an incremental crawl read a badge under its new recipient
    # email, the row under the old email (still the same person's address) stays until a
    # full crawl, and it keeps its old content.
    pipeline = make_pipeline(badges=120, seed=62, env={"GRAPH_WRITE_RATE": "1000"})
    world = pipeline.world
    assert pipeline.crawl("full").succeeded
    world.clock = max(world.clock, datetime.now(UTC) - timedelta(minutes=1))
    mutator = Mutator(world, seed=62, step=timedelta(milliseconds=1))
    moved = mutator.add_alias()
    assert pipeline.crawl("incremental").succeeded
    assert pipeline.stored() == pipeline.expected()
    badge_id = next((b for b in moved.badge_ids if b in shown_badges(pipeline)), None)
    assert badge_id is not None, "the seed should move a badge that is on a profile"

    # When the moved badge is revoked and an incremental crawl runs,
    badge = world.find_badge(badge_id)
    assert badge is not None
    with world.credly.lock:
        badge.state = "revoked"
        badge.state_updated_at = badge.updated_at = world.clock + timedelta(milliseconds=1)
        world.credly.touch()
    assert pipeline.crawl("incremental").succeeded

    # then it is on nobody's profile any more.
    assert badge_id not in shown_badges(pipeline), "the revoked badge is still on a profile"
    assert pipeline.stored() == pipeline.expected()
