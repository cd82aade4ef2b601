"""Step checkpoints against Azurite: several steps settled at once, a range of records read."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from credly_connector.stores.progress import BUCKET
from credly_connector.stores.steps import StepKind, StepRecord, StepStatus, StepStore
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite


@pytest.fixture
def steps(azurite: Azurite, storage_name: str) -> StepStore:
    tables = Tables.from_connection_string(azurite.connection_string, storage_name)
    tables.ensure()
    return StepStore(tables)


def test_steps_settled_in_pairs_say_done_only_with_the_last_pair(steps: StepStore) -> None:
    # given: 5 steps, settled two at a time, as page messages of two pages settle them
    answers = [steps.settle("c1", "page", pair, 5) for pair in ([1, 2], [5], [3, 4])]

    # then: only the message that settled the last step hears that every step is done,
    # and settling again answers the same
    assert answers == [False, False, True]
    assert steps.settle("c1", "page", [1, 2], 5)


def test_a_pair_across_two_buckets_sets_both(steps: StepStore) -> None:
    # given: steps on both sides of a bucket's end, every other one already settled
    total = BUCKET + 2
    assert not steps.settle("c2", "page", list(range(1, BUCKET)), total)
    assert not steps.settle("c2", "page", [total], total)

    # when: the pair that straddles the boundary settles
    done = steps.settle("c2", "page", [BUCKET, BUCKET + 1], total)

    # then: both bits are set, and the crawl's steps are all done
    assert done


def test_pairs_settled_from_many_threads_name_exactly_one_last(steps: StepStore) -> None:
    # given: 40 steps in 20 pairs, settled side by side
    pairs = [[n, n + 1] for n in range(1, 41, 2)]

    # when
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda pair: steps.settle("c3", "page", pair, 40), pairs))

    # then: at least one pair saw the last bit set; a settle after them all sees it too
    assert any(answers)
    assert steps.settle("c3", "page", [1], 40)


def test_records_between_two_numbers_are_read_at_once(steps: StepStore) -> None:
    # given: records of pages 1..4 and of batch 2
    steps.put_many(
        [StepRecord("c4", StepKind.PAGE, n, StepStatus.DONE, 1) for n in (1, 2, 3, 4)]
        + [StepRecord("c4", StepKind.BATCH, 2, StepStatus.DONE, 1)]
    )

    # when / then: a range names only its own kind and numbers; a single number works too
    assert sorted(steps.between("c4", "page", 2, 3)) == [2, 3]
    assert steps.between("c4", "page", 4, 4)[4].status == StepStatus.DONE
    assert steps.between("c4", "page", 5, 6) == {}
    assert list(steps.between("c4", "batch", 1, 2)) == [2]
