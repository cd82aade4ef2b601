"""A tiny `huge` run through the whole path: two host instances, the invocation log, memory."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.huge import HugeOptions, main
from bench.huge_figures import STAGES
from bench.huge_report import results_name, run_and_report
from bench.sampler import ProcessPeaks
from devstack.host.invocation_log import read_invocations

BADGES = 300
HARNESS = {"azurite", "stand-ins", "bench (table meter)"}
# A child holding 60 MiB that starts a grandchild holding 30 MiB, both written to (resident).
HOLDER = (
    "import subprocess, sys, time\n"
    "held = b'\\x01' * (60 << 20)\n"
    "inner = subprocess.Popen([sys.executable, '-c', "
    "\"import time; held = b'\\\\x01' * (30 << 20); print('ready', flush=True); time.sleep(60)\"],"
    " stdout=subprocess.PIPE, text=True)\n"
    "inner.stdout.readline()\n"
    "print(inner.pid, flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    """The three crawls of a 300-badge organisation with 2 instances at 400/s, run once."""
    out_dir = tmp_path_factory.mktemp("huge")
    printed = io.StringIO()
    document = run_and_report(HugeOptions(badges=BADGES, timeout_s=120.0), out_dir, printed)
    return document, out_dir, printed.getvalue()


def test_every_crawl_is_measured_and_ends_exact_with_writes_equal_to_changed_items(measured):
    document, out_dir, _ = measured
    stored = json.loads((out_dir / "huge-300.json").read_text(encoding="utf-8"))
    assert stored["crawls"] == document["crawls"]
    assert [c["run"] for c in stored["crawls"]] == ["full", "incremental-1%", "incremental-0"]
    for crawl in stored["crawls"]:
        assert crawl["status"] == "succeeded"
        assert crawl["badges"] == BADGES
        assert (crawl["instances"], crawl["limit"]) == (2, 400.0)
        assert crawl["exact"] is True
        assert crawl["graph_writes"] == crawl["items_changed"]
    full, changed, quiet = stored["crawls"]
    assert full["items_changed"] == full["items_in_graph"] > 0
    assert 0 < changed["items_changed"] < full["items_changed"]
    assert quiet["graph_writes"] == 0


def test_each_stage_has_its_wall_time_and_longest_invocation_from_the_hosts_log(measured):
    document, _, _ = measured
    full = document["crawls"][0]
    stages = full["stages"]
    # Every stage of the full crawl ran, as the host logged it; pages once per page message
    # at least (two pages of 50 to a message).
    assert list(stages)[: len(STAGES)] == list(STAGES)
    assert stages["pages"]["invocations"] >= BADGES // 100
    assert sum(s["invocations"] for s in stages.values()) == full["invocations"]
    for figures in stages.values():
        assert 0 < figures["longest_s"] <= figures["busy_s"] + 0.001
        assert figures["longest_s"] <= figures["wall_s"] + 0.01
        assert figures["first_start_s"] <= figures["last_end_s"] <= full["wall_s"] + 5
        assert set(figures["instances"]) <= {0, 1}
    # The stages follow one another: the finish starts after the last profile batch ended.
    assert stages["finish"]["first_start_s"] >= stages["profiles"]["last_end_s"] - 0.01
    longest = max(s["longest_s"] for s in stages.values())
    assert full["longest_invocation_s"] == longest
    assert stages[full["longest_invocation_stage"]]["longest_s"] == longest
    # Both instances took messages.
    assert {i for s in stages.values() for i in s["instances"]} == {0, 1}


def test_the_peak_memory_of_every_process_of_the_run_is_reported(measured):
    document, _, _ = measured
    for crawl in document["crawls"]:
        peaks = crawl["peak_rss_mb"]
        instances = [name for name in peaks if name.startswith("instance ")]
        assert sorted(name.split(" (")[0] for name in instances) == ["instance 0", "instance 1"]
        assert set(peaks) >= HARNESS
        for name in [*instances, *HARNESS]:
            assert 20 < peaks[name] < 2000, (name, peaks[name])


def test_the_target_lines_the_tables_and_the_plot_are_written(measured):
    document, out_dir, printed = measured
    lines = {(v["crawl"], v["target"]): v["outcome"] for v in document["targets"]}
    for crawl in document["crawls"]:
        run = crawl["run"]
        assert lines[(run, "longest invocation <= 60 s")] == "PASS"
        assert lines[(run, "writes = changed items")] == "PASS"
        assert lines[(run, "items exact")] == "PASS"
        for name in crawl["peak_rss_mb"]:
            if name.startswith("instance "):
                assert lines[(run, f"peak RSS of {name} <= 300 MB")] == "PASS"
    assert lines[("incremental-0", "no change: 0 writes")] == "PASS"
    # 300 badges cannot keep 400 writes/s busy: the efficiency line is computed, and fails.
    assert lines[("full", "efficiency >= 0.4")] == "FAIL"
    assert "| full | 300 |" in printed
    assert "pages: wall / longest s (n)" in printed
    assert "FAIL full: efficiency >= 0.4" in printed
    assert (out_dir / "huge-300.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # And the host's invocation log is kept beside them, every crawl's invocations in it.
    kept = list(read_invocations(out_dir / "huge-300-invocations.jsonl"))
    assert len(kept) >= sum(c["invocations"] for c in document["crawls"])


def test_a_crawl_that_does_not_end_in_time_is_recorded_as_far_as_it_got_and_ends_the_run(
    tmp_path: Path,
) -> None:
    # Given a timeout no crawl can meet.
    options = HugeOptions(badges=BADGES, timeout_s=0.5)

    # When the scenario runs.
    document = run_and_report(options, tmp_path, io.StringIO())

    # Then only the full crawl is recorded, as not ended, with what the host did meanwhile,
    # and its target line fails.
    [crawl] = document["crawls"]
    assert crawl["status"].startswith("did not end")
    assert crawl["wall_s"] >= 0.5
    assert crawl["invocations"] == sum(s["invocations"] for s in crawl["stages"].values())
    assert any(name.startswith("instance 0") for name in crawl["peak_rss_mb"])
    kept = list(read_invocations(tmp_path / "huge-300-invocations.jsonl"))
    assert "crawl_start" in {r.function for r in kept}
    lines = {v["target"]: v["outcome"] for v in document["targets"]}
    assert lines["the crawl succeeds"] == "FAIL"


def test_a_trial_size_is_written_apart_from_the_full_size_results() -> None:
    assert results_name(200_000) == "huge"
    assert results_name(20_000) == "huge-20000"


def test_the_command_refuses_a_size_that_is_not_a_positive_number(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--badges", "0"])
    assert stopped.value.code == 2
    assert "--badges" in capsys.readouterr().err


def test_process_peaks_follow_each_watched_process_and_its_children() -> None:
    # Given a process holding 60 MiB whose child holds 30 MiB.
    holder = subprocess.Popen(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    inner = int(holder.stdout.readline())
    try:
        # When both are sampled under the holder's name.
        with ProcessPeaks(lambda: {"holder": holder.pid}, interval_s=0.05) as peaks:
            time.sleep(0.3)
            found = peaks.take_peaks()
        # Then each has its own peak, the child's named after its root.
        assert found["holder"] >= 60
        assert 30 <= found[f"holder/{inner}"] < 60
        # And a process that is gone is no longer reported.
        os.kill(inner, signal.SIGKILL)
        time.sleep(0.2)
        assert f"holder/{inner}" not in peaks.take_peaks()
    finally:
        for pid in (inner, holder.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
