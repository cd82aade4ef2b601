"""A full crawl's plan in slices: larger than a query page and a batch, out of time, crashed."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from typing import Any
from urllib.parse import unquote

from credly_connector.graph.delta import DEFAULT_DELTA_PAGE_SIZE
from credly_connector.pipeline.messages import (
    PLAN,
    PROFILES,
    START,
    PlanMessage,
    ProfileMessage,
    decode,
)
from credly_connector.pipeline.plan_walks import CHUNK_ROWS
from credly_connector.runtime import Hooks, build_context
from credly_connector.stores.steps import StepKind, StepStatus
from devstack.synthetic.mutations import Mutator
from tests.pipeline.conftest import Pipeline

# More badge rows than one query page of the plan's walk, in batches of a few people.
BADGES = CHUNK_ROWS + 400
BATCH_SIZE = "40"


def _sliced(pipeline: Pipeline, seconds: float) -> None:
    """Give every plan slice `seconds` (0: each slice plans one batch and hands over)."""
    pipeline.ctx.options = dataclasses.replace(pipeline.ctx.options, slice_s=seconds)


def _plan_checkpoints(pipeline: Pipeline, crawl_id: str) -> list[PlanMessage | None]:
    """Each slice's checkpoint, as the next slice's message it recorded (None: the last)."""
    found = []
    for step in pipeline.ctx.steps.records(crawl_id, StepKind.PLAN):
        assert step.status == StepStatus.DONE, step
        found.append(decode(PLAN, step.message, PlanMessage) if step.message else None)
    return found


def _batches(pipeline: Pipeline, crawl_id: str) -> list[ProfileMessage]:
    steps = list(pipeline.ctx.steps.records(crawl_id, StepKind.BATCH))
    assert all(step.status == StepStatus.DONE for step in steps), steps
    return [decode(PROFILES, step.message, ProfileMessage) for step in steps if step.message]


def test_a_plan_out_of_time_hands_each_slice_on_and_the_crawl_is_exact(make_pipeline) -> None:
    # Given an organisation larger than one query page of rows and than a batch, and plan
    # slices with no time of their own (each plans one batch, then hands the rest on)
    pipeline: Pipeline = make_pipeline(
        badges=BADGES, seed=61, env={"PROFILE_BATCH_SIZE": BATCH_SIZE}
    )
    _sliced(pipeline, 0.0)

    # When a first full crawl runs
    first = pipeline.crawl("full")

    # Then it is exact, each person written once
    assert first.succeeded, first.record
    assert first.record is not None
    expected = pipeline.expected()
    assert pipeline.stored() == expected
    assert pipeline.writes() == len(expected)
    # And its plan ran in many slices, each naming the next one and where it goes on, the
    # batches numbered without a gap across them
    checkpoints = _plan_checkpoints(pipeline, first.record.crawl_id)
    total = first.record.total_batches or 0
    assert len(checkpoints) > 5
    assert checkpoints[-1] is None
    assert [c.slice for c in checkpoints[:-1] if c] == list(range(2, len(checkpoints) + 1))
    assert {c.part for c in checkpoints[:-1] if c} >= {"badges", "send"}
    assert total >= 10
    assert len(checkpoints) >= total
    batches = _batches(pipeline, first.record.crawl_id)
    assert [m.batch for m in batches] == list(range(1, total + 1))
    # The range batches tile the rows: each starts where the one before stopped
    ranges = [m.span for m in batches if m.span]
    assert ranges[0][0] == ""
    assert ranges[-1][-1] == ""
    assert all(a[-1] == b[0] for a, b in itertools.pairwise(ranges))

    # When badges vanish from Credly and a second full crawl plans in slices again
    mutator = Mutator(pipeline.world, seed=8)
    for _ in range(3):
        mutator.delete_badge()
    writes = pipeline.writes() + pipeline.deletes()
    second = pipeline.crawl("full")

    # Then the sweep, spread across slices, removed exactly those, and only their people
    # changed
    assert second.succeeded, second.record
    assert second.record is not None
    assert second.record.counts.get("badges_removed") == 3
    assert pipeline.stored() == pipeline.expected()
    assert pipeline.writes() + pipeline.deletes() - writes <= 3


def test_a_plan_with_time_plans_in_one_slice(make_pipeline) -> None:
    # Given the same organisation and slices with plenty of time
    pipeline: Pipeline = make_pipeline(
        badges=BADGES, seed=61, env={"PROFILE_BATCH_SIZE": BATCH_SIZE}
    )
    _sliced(pipeline, 600.0)

    # When a full crawl runs, then its whole plan is one slice, and it is exact
    result = pipeline.crawl("full")
    assert result.succeeded, result.record
    assert result.record is not None
    assert _plan_checkpoints(pipeline, result.record.crawl_id) == [None]
    assert pipeline.stored() == pipeline.expected()


class CrashBeforeCheckpoint:
    """Fails, once, the table request that records plan slice `number`'s checkpoint.

    The request reached the table (the hook runs on its response), so the slice's batches and
    even its checkpoint may be stored: the slice's message comes back all the same.
    """

    def __init__(self, number: int) -> None:
        self._row = f"RowKey='{StepKind.PLAN}-{number:07d}'"
        self.fired = 0
        self._lock = threading.Lock()

    def __call__(self, response: Any) -> None:
        request = response.http_request
        if request.method == "GET" or self._row not in unquote(str(request.url)):
            return
        with self._lock:
            if self.fired:
                return
            self.fired += 1
        raise ConnectionError("the process died while recording the plan's checkpoint")


def test_a_slice_that_crashed_at_its_checkpoint_runs_again_and_the_crawl_stays_exact(
    make_pipeline,
) -> None:
    # Given a crawl whose third plan slice dies while recording its checkpoint
    pipeline: Pipeline = make_pipeline(
        badges=BADGES, seed=62, env={"PROFILE_BATCH_SIZE": BATCH_SIZE}
    )
    crash = CrashBeforeCheckpoint(3)
    pipeline.ctx = build_context(pipeline.settings, hooks=Hooks(table_response=crash))
    _sliced(pipeline, 0.0)

    # When the crawl runs (the slice's message is delivered again)
    result = pipeline.crawl("full")

    # Then it crashed there once, and the crawl is exact: everyone written once, the
    # batches numbered without a gap or a repeat
    assert crash.fired == 1
    assert result.succeeded, result.record
    assert result.record is not None
    expected = pipeline.expected()
    assert pipeline.stored() == expected
    assert pipeline.writes() == len(expected)
    batches = _batches(pipeline, result.record.crawl_id)
    assert [m.batch for m in batches] == list(range(1, (result.record.total_batches or 0) + 1))
    assert len(_plan_checkpoints(pipeline, result.record.crawl_id)) > 3


def test_a_batch_out_of_time_hands_the_people_it_did_not_begin_to_its_next_message(
    make_pipeline,
) -> None:
    # Given batches with no time of their own: each message composes one person, then
    # hands the others to a message of the same batch
    pipeline: Pipeline = make_pipeline(badges=240, seed=63, env={"PROFILE_BATCH_SIZE": "40"})
    pipeline.ctx.options = dataclasses.replace(pipeline.ctx.options, batch_s=0.0)

    # When a full crawl runs
    result = pipeline.crawl("full")

    # Then it is exact, everyone written once and counted once, although each batch took
    # many messages
    assert result.succeeded, result.record
    assert result.record is not None
    expected = pipeline.expected()
    assert pipeline.stored() == expected
    assert pipeline.writes() == len(expected)
    assert result.record.counts["people_written"] == len(expected)
    total = result.record.total_batches or 0
    assert pipeline.ctx.queues.sent_by_stage[PROFILES] >= len(expected)
    assert len(expected) > total


def test_a_directory_round_read_across_start_messages_is_exact(make_pipeline) -> None:
    # Given a directory of several users/delta pages, and starts with no time of their own
    # (each reads one page of the round, then hands the rest to the next start message)
    pipeline: Pipeline = make_pipeline(
        badges=BADGES, seed=64, env={"PROFILE_BATCH_SIZE": BATCH_SIZE}
    )
    _sliced(pipeline, 0.0)
    directory = pipeline.stack.graph.directory
    assert len(directory.users()) > 2 * DEFAULT_DELTA_PAGE_SIZE

    # When a first full crawl runs, then its start took a message per page, and the
    # snapshot and the items are exact
    assert pipeline.crawl("full").succeeded
    starts = pipeline.ctx.queues.sent_by_stage[START]
    assert starts > 2
    assert {u.id for u in pipeline.ctx.directory.users()} == {u.id for u in directory.users()}
    before = pipeline.stored()
    assert before == pipeline.expected()

    # When people leave the directory while Graph loses the stored delta link, and an
    # incremental crawl reads the whole directory again across start messages
    mutator = Mutator(pipeline.world, seed=64)
    mutator.remove_user()
    mutator.remove_user()
    directory.expire_delta_tokens()
    result = pipeline.crawl("incremental")

    # Then the users that round never listed are gone from the snapshot, and so are the
    # items of the people who left
    assert result.succeeded, result.record
    assert pipeline.ctx.queues.sent_by_stage[START] - starts > 2
    assert {u.id for u in pipeline.ctx.directory.users()} == {u.id for u in directory.users()}
    expected = pipeline.expected()
    assert expected != before
    assert pipeline.stored() == expected
