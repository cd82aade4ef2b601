"""A tiny `scaleout` run through the whole path: host instances, crawls over HTTP, JSON, PNG."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from bench.scaleout import ScaleoutOptions
from bench.scaleout_report import run_and_report

BADGES = 200
LIMIT = 25.0
FIGURES = {
    "wall_s": float,
    "people": int,
    "efficiency": float,
    "throttled_share": float,
    "busiest_5s_share": float,
    "credly_in_flight_max": int,
    "coordination_table_ops": int,
    "table_ops": int,
    "graph_writes": int,
    "exact": bool,
}


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    """One and two instances at 25 writes/s, each through the three crawls, run once."""
    out_dir = tmp_path_factory.mktemp("scaleout")
    printed = io.StringIO()
    options = ScaleoutOptions(instances=(1, 2), limits=(LIMIT,), badges=BADGES, timeout_s=120.0)
    document = run_and_report(options, out_dir, printed)
    return document, out_dir, printed.getvalue()


def test_every_crawl_of_both_fleets_is_measured_and_ends_exact(measured):
    document, out_dir, _ = measured
    stored = json.loads((out_dir / "scaleout.json").read_text(encoding="utf-8"))
    assert stored["crawls"] == document["crawls"]
    assert stored["targets"] == document["targets"]
    runs = [(c["instances"], c["label"]) for c in stored["crawls"]]
    assert runs == [
        (count, label) for count in (1, 2) for label in ("full", "incremental-1%", "incremental-0")
    ]
    for crawl in stored["crawls"]:
        for name, kind in FIGURES.items():
            assert isinstance(crawl[name], kind), (name, crawl[name])
        assert crawl["status"] == "succeeded"
        assert crawl["exact"] is True
        assert crawl["items_wrong"] == 0
        assert crawl["graph_write_limit_per_s"] == LIMIT


def test_a_full_crawl_is_counted_where_it_arrives(measured):
    document, _, _ = measured
    for crawl in document["crawls"]:
        if crawl["label"] != "full":
            continue
        # The webhook's person may be written again: by its recompose, and by a crawl writer
        # refused because the webhook recorded the person meanwhile.
        assert crawl["people"] <= crawl["graph_writes"] <= crawl["people"] + 3
        assert crawl["people"] == crawl["items_expected"] > 0
        assert sum(crawl["writes_per_s"]) == crawl["graph_writes"]
        assert 1 <= crawl["credly_in_flight_max"] <= crawl["credly_requests"]
        # The shared budgets' rows are counted apart from the pipeline's own tables.
        by_table = crawl["table_ops_by_table"]
        assert crawl["coordination_table_ops"] == sum(
            n for key, n in by_table.items() if key.split(".")[0] in {"budgets", "slots"}
        )
        assert by_table.get("badges.batch", 0) > 0
        assert crawl["table_ops"] == sum(by_table.values())


def test_the_webhook_sent_during_the_full_crawl_reaches_its_item(measured):
    document, _, _ = measured
    for crawl in document["crawls"]:
        if crawl["label"] == "full":
            webhook = crawl["webhook"]
            assert webhook["sent"], webhook
            assert webhook["posted"], webhook
            assert webhook["latency_s"] is not None, webhook


def test_the_plot_the_table_and_the_target_lines_are_written(measured):
    document, out_dir, printed = measured
    assert (out_dir / "scaleout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 2 instances @25/s / full |" in printed
    outcomes = {v["outcome"] for v in document["targets"]}
    assert outcomes <= {"PASS", "FAIL", "INFO"}
    assert any("items exact" in v["target"] for v in document["targets"])
