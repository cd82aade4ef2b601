"""`bench.pages_cpu` on a tiny organisation: every page measured, the summary, the file."""

from __future__ import annotations

import json
from pathlib import Path

from bench.pages_cpu import main, measure, summary


def test_every_page_of_the_crawl_is_measured_and_summarised() -> None:
    document = measure(badges=160, pages=10)

    # 160 badges are 4 pages of 50: all of them run, the request for more is capped, in the
    # messages the start stage sends (two pages each)
    assert document["total_pages"] == 4
    assert document["pages_per_message"] == 2
    assert [(p["page"], p["count"]) for p in document["pages"]] == [(1, 2), (3, 2)]
    assert all(p["cpu_ms"] > 0 and p["wall_ms"] >= p["cpu_ms"] / 4 for p in document["pages"])
    figures = summary(document)
    # the second message's two pages, each at that message's CPU per page
    assert figures["pages_measured"] == 2
    assert figures["cpu_ms_median"] == document["pages"][1]["cpu_ms"]
    assert figures["cpu_ms_mean"] == document["pages"][1]["cpu_ms"]


def test_the_command_writes_the_results_and_says_pass_or_fail(tmp_path: Path, capsys) -> None:
    code = main(["--badges", "120", "--pages", "3", "--out", str(tmp_path)])

    printed = capsys.readouterr().out
    stored = json.loads((tmp_path / "pages_cpu.json").read_text(encoding="utf-8"))
    # pages 1-2, then page 3 alone
    assert [(p["page"], p["count"]) for p in stored["pages"]] == [(1, 2), (3, 1)]
    verdict = "PASS" if stored["summary"]["cpu_ms_median"] <= 40 else "FAIL"
    assert printed.startswith(f"{verdict} pages stage CPU per page")
    assert code == (0 if verdict == "PASS" else 1)
