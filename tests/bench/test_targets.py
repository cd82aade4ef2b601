"""The target lines: which figures pass, which fail, which are only reported."""

from __future__ import annotations

from typing import Any

from bench.report import markdown_table
from bench.targets import verdicts


def crawl(**changes: Any) -> dict[str, Any]:
    details = {
        "label": "full",
        "status": "succeeded",
        "timed_out": False,
        "first_in_run": True,
        "pages": 200,
        "graph_items": 2400,
        "graph_items_changed": 2400,
        "badges_changed_at_credly": 0,
        "organisations": 1,
        "directory_pages": 19,
    }
    details.update(changes.pop("details", {}))
    fields = {
        "kind": "full",
        "badges": 10_000,
        "people": 2400,
        "wall_s": 55.0,
        "graph_write_limit_per_s": 50.0,
        "lower_bound_s": 48.0,
        "efficiency": 0.873,
        "graph_writes": 2400,
        "graph_429": 12,
        "graph_reads": 19,
        "credly_requests": 201,
        "table_ops": 30_000,
        "queue_messages": 230,
        "peak_rss_mb": 140.0,
        "cpu_s": 50.0,
    }
    return {**fields, **changes, "details": details}


def outcomes(scenario: str, result: dict[str, Any]) -> dict[str, str]:
    return {v.target: v.outcome for v in verdicts(scenario, result)}


def test_a_good_full_crawl_passes_every_target():
    found = outcomes("small", crawl())
    assert found["efficiency >= 0.85 at 50/s"] == "PASS"
    assert found["429s <= 5% of writes"] == "PASS"
    assert set(found.values()) == {"PASS", "INFO"}


def test_a_slow_crawl_and_a_hammering_one_fail():
    found = outcomes("small", crawl(efficiency=0.4, graph_429=500))
    assert found["efficiency >= 0.85 at 50/s"] == "FAIL"
    assert found["429s <= 5% of writes"] == "FAIL"


def test_efficiency_above_100_per_second_is_reported_not_judged():
    found = outcomes("limits", crawl(graph_write_limit_per_s=400.0, efficiency=0.2))
    assert found["efficiency at 400/s"] == "INFO"


def test_an_idle_incremental_crawl_must_not_write_nor_page():
    idle = crawl(
        kind="incremental",
        graph_writes=1,
        graph_429=0,
        credly_requests=3,
        details={"label": "incremental-0", "first_in_run": False, "pages": 1},
    )
    found = outcomes("small", idle)
    assert found["no change: 0 writes, <= 2 Credly requests"] == "FAIL"
    assert found["Graph writes = items whose content changed"] == "FAIL"


def test_a_full_crawl_says_where_its_time_before_the_first_write_went():
    windows = {
        "start": [0.1, 1.1],
        "pages": [1.2, 9.2],
        "plan": [9.2, 10.0],
        "profiles": [10.0, 58.0],
    }
    lines = {v.target: v for v in verdicts("small", crawl(details={"stage_windows_s": windows}))}
    line = lines["time before the first write"]
    assert line.outcome == "INFO"
    # 48 s / 0.85 = 56.5 s of wall at most, of which 2,400 people at 50/s take 48 s.
    assert line.detail == (
        "10.0 s: start 1.0, pages 8.0 (Credly's floor 5.0 s: 200 pages x 0.1 s / 4 slots), "
        "plan 0.8; efficiency 0.85 needs at most 8.5 s"
    )
    assert "time before the first write" not in outcomes("small", crawl())
    incremental = crawl(kind="incremental", details={"stage_windows_s": windows})
    assert "time before the first write" not in outcomes("small", incremental)


def test_memory_is_judged_in_the_large_scenario_only():
    assert outcomes("large", crawl(peak_rss_mb=301.0))["peak RSS <= 300 MB"] == "FAIL"
    assert outcomes("small", crawl(peak_rss_mb=301.0))["peak RSS of the pipeline process"] == "INFO"


def test_the_table_has_a_row_per_crawl():
    table = markdown_table([crawl(), crawl(details={"label": "incremental-1%"})])
    rows = table.splitlines()
    assert len(rows) == 4
    assert rows[2].startswith("| full | 10000 | 2400 | 55 | 50 | 48 | 0.87 | 2400 | 12 |")
    assert rows[3].startswith("| incremental-1% |")
