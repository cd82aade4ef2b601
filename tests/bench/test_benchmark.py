"""A tiny scenario through the benchmark's whole path: stand-ins, crawls, JSON, table, PNG."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from bench.benchmark import benchmark
from bench.runner import Options
from bench.scenarios import CREDLY_PAGE_LATENCY_S, tiny
from devstack.azurite import Azurite

ISSUE_FIELDS = {
    "kind": str,
    "badges": int,
    "people": int,
    "wall_s": float,
    "graph_write_limit_per_s": float,
    "lower_bound_s": float,
    "efficiency": float,
    "graph_writes": int,
    "graph_429": int,
    "graph_reads": int,
    "credly_requests": int,
    "table_ops": int,
    "queue_messages": int,
    "peak_rss_mb": float,
    "cpu_s": float,
}
BADGES = 300


@pytest.fixture(scope="module")
def measured(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path, str]:
    """The tiny scenario run once: its JSON document, the output directory, the printout."""
    out_dir = tmp_path_factory.mktemp("bench")
    printed = io.StringIO()
    document = benchmark(tiny(BADGES), Options(timeout_s=60.0), azurite, out_dir, printed)
    return document, out_dir, printed.getvalue()


def crawl(document: dict[str, Any], label: str) -> dict[str, Any]:
    return next(c for c in document["crawls"] if c["details"]["label"] == label)


def test_the_json_file_holds_every_field_of_the_issue_for_each_crawl(measured):
    document, out_dir, _ = measured
    stored = json.loads((out_dir / "tiny.json").read_text(encoding="utf-8"))
    assert stored == document
    assert [c["details"]["label"] for c in stored["crawls"]] == [
        "full",
        "incremental-1%",
        "incremental-0",
    ]
    for result in stored["crawls"]:
        for name, kind in ISSUE_FIELDS.items():
            assert isinstance(result[name], kind), (name, result[name])
        assert result["details"]["status"] == "succeeded"
    assert stored["cpu_count"] >= 1
    assert stored["package_versions"]["azure-data-tables"][0].isdigit()


def test_the_full_crawl_writes_every_person_once_within_sane_bounds(measured):
    document, _, _ = measured
    full = crawl(document, "full")
    details = full["details"]
    assert full["badges"] == BADGES
    assert full["graph_writes"] == full["people"] == details["graph_items"] > 0
    assert 0 < full["efficiency"] <= 1.5
    assert full["lower_bound_s"] == pytest.approx(
        max(full["people"] / 50.0, details["pages"] * 0.1), abs=0.01
    )
    # The start reads page 1 for the page count, then every page is read once.
    assert full["credly_requests"] == details["pages"] + 1
    assert 1 <= full["graph_reads"] <= details["directory_pages"] + 1
    # Every request counts once, a transaction too: each page writes its rows in at least one.
    assert full["table_ops"] == sum(details["table_ops_by_table"].values())
    assert details["table_ops_by_table"]["any.batch"] >= details["pages"]
    assert full["queue_messages"] >= details["pages"] + 1
    assert details["queue_received"] >= full["queue_messages"]
    assert full["peak_rss_mb"] > 20
    assert full["cpu_s"] > 0
    assert sum(details["writes_per_s"]) == full["graph_writes"]


def test_an_incremental_crawl_writes_only_the_people_whose_items_changed(measured):
    document, _, _ = measured
    changed = crawl(document, "incremental-1%")
    assert changed["details"]["badges_changed_at_credly"] == 3
    assert changed["graph_writes"] == changed["details"]["graph_items_changed"]
    assert changed["badges"] >= 1


def test_an_incremental_crawl_without_changes_costs_few_credly_requests_and_no_write(measured):
    document, _, _ = measured
    idle = crawl(document, "incremental-0")
    assert idle["graph_writes"] == 0
    # Credly's filter is a date: the watermark's whole day is read again (its pages, after the
    # start's filtered page 1).
    pages = idle["details"]["pages"]
    assert idle["credly_requests"] == 1 + pages
    assert idle["lower_bound_s"] == pytest.approx(pages * CREDLY_PAGE_LATENCY_S)
    assert idle["details"]["graph_items_changed"] == 0


def test_the_printout_has_the_table_and_a_target_line_per_check(measured):
    document, _, printed = measured
    assert "| crawl | badges | people | wall s |" in printed
    assert "PASS incremental-0: no change: 0 writes, <= 2 Credly requests" in printed
    lines = [line for line in printed.splitlines() if line.split(" ", 1)[0] in {"PASS", "FAIL"}]
    assert len(lines) == sum(1 for t in document["targets"] if t["outcome"] != "INFO")


def test_the_plot_is_a_png_next_to_the_json(measured):
    _, out_dir, _ = measured
    png = (out_dir / "tiny.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000
