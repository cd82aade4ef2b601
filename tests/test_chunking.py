"""Runs bounded by count and size budget."""

from __future__ import annotations

from credly_connector.chunking import runs


def test_runs_respect_the_count_and_the_budget_in_order() -> None:
    items = [3, 3, 3, 9, 1, 1, 1, 1]

    out = list(runs(items, size=lambda n: n, budget=8, count=3, overhead=1))

    assert [n for run in out for n in run] == items
    assert out == [[3, 3], [3], [9], [1, 1, 1], [1]]


def test_an_empty_input_gives_no_run() -> None:
    assert list(runs([], size=len, budget=10)) == []
