"""A crawl worker process killed at chosen points, again and again: the crawl still converges.

Each test requests one full crawl and runs it through worker processes. The first three are
killed (SIGKILL, by pid) just before a seeded request of the kind that marks a crash point:

1. after a page was fetched, before anything of it is stored (its recipients' crawl-set write);
2. after a page's badges are stored, before the page is marked done (its step record);
3. in the middle of a profile batch: before one of its item writes to Graph, while the
   batch's earlier writes are done but (some) not yet committed to the people table.

A doomed worker hides the messages it receives for a short time only, so after each kill they
come back quickly to the next worker; the fourth worker runs the crawl to its end.
"""

from __future__ import annotations

import math
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from credly_connector.pipeline.launch import request_crawl
from credly_connector.stores.crawls import CrawlStatus
from credly_connector.stores.steps import StepKind, StepStatus
from devstack.credly.paging import PER_PAGE
from devstack.tripwire import SeenRequest
from tests.crashes.conftest import (
    Workers,
    graph_item_put,
    graph_item_puts,
    people_hashes,
    queued,
    table_write,
)

BADGES = 250  # five pages
# Long enough for any handler of a small page or batch, short enough to resume quickly.
DOOMED_VISIBILITY_S = 2
WAIT_S = 90.0


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: the kind of request to stop at, and how many of them are still to come."""

    name: str
    graph: bool
    matches: Callable[[Workers], Callable[[SeenRequest], bool]]
    to_come: Callable[[Workers, str], int]


def pages_not_done(workers: Workers, crawl_id: str) -> int:
    """Page messages with a page not done: each still writes its crawl set and step records.

    A message names `pages_per_message` pages, whose writes it shares.
    """
    pipeline = workers.pipeline
    record = pipeline.ctx.crawls.get(crawl_id)
    assert record is not None
    total = record.total_pages or math.ceil(
        len(pipeline.world.credly.badges[pipeline.stack.organization_id]) / PER_PAGE
    )
    done = {
        s.number
        for s in pipeline.ctx.steps.records(crawl_id, StepKind.PAGE)
        if s.status == StepStatus.DONE
    }
    span = pipeline.ctx.options.pages_per_message
    return len({(n - 1) // span for n in range(1, total + 1) if n not in done})


def items_not_written(workers: Workers, crawl_id: str) -> int:
    """People due an item that Graph does not hold yet (each is still written)."""
    return len(workers.pipeline.expected()) - len(workers.pipeline.stored())


POINTS = (
    KillPoint(
        "after a page fetch, before its store write",
        False,
        lambda w: table_write(w.pipeline, "crawlsets"),
        pages_not_done,
    ),
    KillPoint(
        "after a page's store write, before the page is marked done",
        False,
        lambda w: table_write(w.pipeline, "crawlsteps", row_prefix=f"{StepKind.PAGE}-"),
        pages_not_done,
    ),
    KillPoint(
        "in the middle of a profile batch, before one of its Graph writes",
        True,
        lambda w: graph_item_put,
        items_not_written,
    ),
)


@dataclass(frozen=True)
class Kill:
    """What the stores and Graph held right after a kill."""

    point: str
    held: SeenRequest
    puts: dict[str, int]
    committed: dict[str, str]


def kill_at(workers: Workers, crawl_id: str, point: KillPoint, nth: int) -> Kill:
    """Run a worker until the `nth` request of `point` arrives, kill it there, and wait."""
    tripwire = workers.graph if point.graph else workers.tables
    worker = workers.start(crawl_id, visibility_s=DOOMED_VISIBILITY_S)
    workers.kill_at(worker, tripwire, point.matches(workers), nth)
    code = worker.wait(WAIT_S)
    assert code == -signal.SIGKILL, (
        f"the worker was not killed {point.name} (request {nth}; exit {code}):\n"
        + worker.log_tail()
    )
    held = tripwire.tripped
    assert held is not None
    # Requests the worker sent before it died may still be in the services' hands.
    workers.settle()
    return Kill(
        point.name, held, graph_item_puts(workers.pipeline), people_hashes(workers.pipeline)
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_crawl_survives_worker_kills_at_each_crash_point(
    workers: Callable[..., Workers], seed: int
) -> None:
    # Given a world and a requested full crawl,
    stack = workers(badges=BADGES, seed=seed + 40)
    pipeline = stack.pipeline
    crawl = request_crawl(pipeline.ctx, "full", "test").crawl
    assert crawl is not None
    rng = random.Random(seed)

    # when a worker is killed at each crash point in turn (a seeded request of its kind),
    kills: list[Kill] = []
    for point in POINTS:
        nth = rng.randint(1, point.to_come(stack, crawl.crawl_id))
        kills.append(kill_at(stack, crawl.crawl_id, point, nth))
    # and a last worker runs what is left,
    last = stack.start(crawl.crawl_id)
    assert last.wait(WAIT_S) == 0, last.log_tail()

    # then the crawl succeeded with exactly the oracle's items,
    record = pipeline.ctx.crawls.get(crawl.crawl_id)
    assert record is not None
    assert record.status == CrawlStatus.SUCCEEDED, (record, last.log_tail())
    expected = pipeline.expected()
    assert expected, "the world should give some people an item"
    assert pipeline.stored() == expected
    organization = pipeline.stack.organization_id
    assert record.counts["badges_seen"] == len(pipeline.world.credly.badges[organization])
    assert record.counts["people_written"] + record.counts.get("people_unchanged", 0) == len(
        expected
    )
    # nothing is left on the queues or poisoned, the lease is free and the watermark moved;
    assert (queued(pipeline), queued(pipeline, poison=True)) == (0, 0)
    assert pipeline.ctx.leases.current(organization) is None
    assert pipeline.ctx.orgstate.get(organization).watermark is not None
    # and Graph got an item again only where a kill left the outcome of its write unknown.
    final_puts, final_committed = graph_item_puts(pipeline), people_hashes(pipeline)
    assert set(final_puts) == set(expected)
    afterwards = [k.puts for k in kills[1:]] + [final_puts]
    for kill, later in zip(kills, afterwards, strict=True):
        for item, count in kill.puts.items():
            if later.get(item, 0) > count:
                assert kill.committed.get(item) != final_committed[item], (
                    f"item {item} was committed before the kill {kill.point}, yet written again"
                )
    # The batch cut short ran again: the held write, which never reached Graph, was done once
    # (unless a duplicate delivery of the batch had done and committed it before the kill).
    cut = kills[-1]
    held = cut.held.target.rsplit("/", 1)[1]
    if held not in cut.committed:
        assert final_puts[held] == cut.puts.get(held, 0) + 1
