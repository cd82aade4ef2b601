"""Splitting a sequence into runs bounded by a count and a size budget (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def runs(
    items: Iterable[T],
    *,
    size: Callable[[T], int],
    budget: int,
    count: int | None = None,
    overhead: int = 0,
) -> Iterator[list[T]]:
    """`items` in order, in runs of at most `count` whose sizes add up to at most `budget`.

    An item too large for an empty run goes alone: the receiver judges it.

    Args:
        items: What to split, kept in order.
        size: The size one item adds to its run.
        budget: The most a run may weigh, `overhead` included.
        count: The most items in a run (no limit when None).
        overhead: What every run weighs before its first item (framing).
    """
    run: list[T] = []
    used = overhead
    for item in items:
        weight = size(item)
        if run and ((count is not None and len(run) >= count) or used + weight > budget):
            yield run
            run, used = [], overhead
        run.append(item)
        used += weight
    if run:
        yield run
