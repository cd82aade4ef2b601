"""The `huge` scenario's figures and target lines, from plain invocation records and peaks."""

from __future__ import annotations

from typing import Any

from bench.huge_figures import (
    InstanceNames,
    crawl_invocations,
    instance_names,
    longest_invocation,
    named_processes,
    stage_figures,
    verdicts,
)
from devstack.host.invocation_log import FAILED, SUCCEEDED, TIMED_OUT, InvocationRecord


def record(
    function: str, start: float, duration: float, *, instance: int = 0, outcome: str = SUCCEEDED
) -> InvocationRecord:
    return InvocationRecord(
        function=function,
        trigger=function.replace("_", "-"),
        instance=instance,
        pid=1000 + instance,
        start=1.7e9 + start,
        start_monotonic=start,
        duration_s=duration,
        outcome=outcome,
        detail=f"{function} at {start}",
    )


CRAWL = [
    record("crawl_start", 100.0, 2.0),
    record("crawl_pages", 102.0, 1.0, instance=0),
    record("crawl_pages", 102.1, 4.0, instance=1),
    record("crawl_pages", 103.0, 1.5, instance=0, outcome=FAILED),
    record("crawl_plan", 106.5, 30.0, instance=1),
    record("crawl_profiles", 137.0, 5.0),
    record("crawl_finish", 142.5, 0.5, instance=1),
]


def test_each_stage_gets_its_wall_time_busy_time_and_longest_invocation() -> None:
    # Given one crawl's invocations, requested at t=99.
    # When they are grouped by stage.
    stages = stage_figures(CRAWL, started=99.0)

    # Then the stages come in the crawl's order, each from its first start to its last end.
    assert list(stages) == ["start", "pages", "plan", "profiles", "finish"]
    pages = stages["pages"]
    assert pages["invocations"] == 3
    assert pages["first_start_s"] == 3.0
    assert pages["last_end_s"] == 7.1  # 102.1 + 4.0 - 99
    assert pages["wall_s"] == 4.1
    assert pages["busy_s"] == 6.5
    assert pages["longest_s"] == 4.0
    assert pages["longest_instance"] == 1
    assert pages["failed"] == 1
    assert pages["instances"] == [0, 1]
    # And the crawl's longest single invocation is the plan's.
    assert longest_invocation(stages) == ("plan", 30.0)


def test_only_the_invocations_begun_during_the_crawl_are_its_own() -> None:
    earlier = record("crawl_finish", 50.0, 1.0)
    later = record("crawl_start", 300.0, 1.0)
    assert crawl_invocations([earlier, *CRAWL, later], 99.0, 150.0) == CRAWL


def test_functions_outside_the_stages_are_reported_after_them_under_their_own_name() -> None:
    poison = record("crawl_pages_poison", 110.0, 0.2)
    timed_out = record("crawl_plan", 107.0, 600.0, outcome=TIMED_OUT)
    stages = stage_figures([*CRAWL, poison, timed_out], started=99.0)
    assert list(stages)[-1] == "pages_poison"
    assert stages["plan"]["timed_out"] == 1
    assert longest_invocation(stages) == ("plan", 600.0)
    assert longest_invocation({}) == ("-", 0.0)


def test_instance_processes_are_named_by_the_instance_the_log_says_they_were() -> None:
    peaks = {"azurite": 400.0, "instance pid 1001": 210.0, "instance pid 1001/77": 9.0}
    named = named_processes(peaks, instance_names(CRAWL))
    assert named == {
        "azurite": 400.0,
        "instance 1 (pid 1001)": 210.0,
        "instance 1 (pid 1001)/77": 9.0,
    }
    # A process the log never saw keeps its pid name.
    assert named_processes({"instance pid 5": 1.0}, {}) == {"instance pid 5": 1.0}


def test_instances_the_log_never_saw_are_named_by_their_place_when_the_fleet_started() -> None:
    # Given a fleet of 2 seen first while one instance was still starting, then whole
    names = InstanceNames(2)
    assert names.started([7]) == [7]
    assert names.started([1000, 1001]) == [1000, 1001]
    # (a later replacement does not rename the first processes)
    names.started([1000, 2002])

    # Then a crawl stopped before either ended an invocation still names both
    assert names.of([]) == {1000: "instance 0", 1001: "instance 1"}
    # And the log's name wins where it knows the process
    assert names.of(CRAWL)[1001] == "instance 1"
    assert named_processes({"instance pid 1000": 90.0}, names.of([])) == {
        "instance 0 (pid 1000)": 90.0
    }


def measured(**overrides: Any) -> dict[str, Any]:
    crawl: dict[str, Any] = {
        "run": "full",
        "kind": "full",
        "status": "succeeded",
        "peak_rss_mb": {"instance 0 (pid 1)": 250.0, "azurite": 900.0},
        "longest_invocation_stage": "plan",
        "longest_invocation_s": 12.0,
        "invocations_timed_out": 0,
        "graph_writes": 4000,
        "graph_429": 3,
        "items_changed": 4000,
        "efficiency": 0.45,
        "limit": 400.0,
        "instances": 2,
        "people": 4000,
        "wall_s": 22.2,
        "exact": True,
        "items_wrong": 0,
        "items_expected": 4000,
        "badges_changed_at_credly": 0,
    }
    crawl.update(overrides)
    return crawl


def outcomes(crawl: dict[str, Any]) -> dict[str, str]:
    return {v.target: v.outcome for v in verdicts(crawl)}


def test_a_crawl_within_every_target_passes_and_the_harness_memory_is_only_reported() -> None:
    found = outcomes(measured())
    assert found["peak RSS of instance 0 (pid 1) <= 300 MB"] == "PASS"
    assert found["peak RSS of azurite (harness, not deployed)"] == "INFO"
    assert found["longest invocation <= 60 s"] == "PASS"
    assert found["writes = changed items"] == "PASS"
    assert found["efficiency >= 0.4"] == "PASS"
    assert found["items exact"] == "PASS"
    assert "FAIL" not in found.values()


def test_each_missed_target_is_a_fail_line() -> None:
    found = outcomes(
        measured(
            status="failed",
            peak_rss_mb={"instance 1 (pid 2)": 552.0},
            longest_invocation_s=700.0,
            graph_writes=4010,
            wall_s=60.0,
            exact=False,
            items_wrong=3,
        )
    )
    assert found == {
        "the crawl succeeds": "FAIL",
        "peak RSS of instance 1 (pid 2) <= 300 MB": "FAIL",
        "longest invocation <= 60 s": "FAIL",
        "writes = changed items": "FAIL",
        "efficiency >= 0.4": "FAIL",
        "writes' share of the limit": "INFO",
        "items exact": "FAIL",
        "429s": "INFO",
    }


def test_a_timed_out_invocation_fails_the_longest_invocation_line_whatever_its_length() -> None:
    found = verdicts(measured(longest_invocation_s=1.0, invocations_timed_out=1))
    line = next(v for v in found if v.target == "longest invocation <= 60 s")
    assert line.outcome == "FAIL"
    assert "1 timed out" in line.detail


def test_efficiency_is_a_target_only_at_400_per_second_with_two_instances() -> None:
    slower = outcomes(measured(limit=50.0))
    assert slower["efficiency at 50/s with 2 instances"] == "INFO"
    assert outcomes(measured(instances=1))["efficiency at 400/s with 1 instance"] == "INFO"


def test_efficiency_is_the_issues_measure_the_longer_of_writes_at_the_limit_and_paging() -> None:
    # Given a full crawl of 200,000 badges (4,000 pages of 50, 400 s read one after another)
    # whose 48,000 people take 120 s at 400/s
    crawl = measured(people=48_000, crawl_counts={"badges_seen": 200_000}, wall_s=900.0)

    # Then its efficiency is the paging bound over the wall, and the writes' share is beside it
    lines = {v.target: v for v in verdicts(crawl)}
    assert lines["efficiency >= 0.4"].outcome == "PASS"
    detail = lines["efficiency >= 0.4"].detail
    assert detail.startswith("0.44 = max(48000 people / 400/s, 4000 pages")
    assert lines["writes' share of the limit"].detail.startswith("0.13 = ")
    # And a wall past 1,000 s misses the target
    slow = {v.target: v.outcome for v in verdicts({**crawl, "wall_s": 1001.0})}
    assert slow["efficiency >= 0.4"] == "FAIL"


def test_an_incremental_crawl_after_no_change_must_write_nothing() -> None:
    quiet = measured(run="incremental-0", kind="incremental", graph_writes=0, items_changed=0)
    assert outcomes(quiet)["no change: 0 writes"] == "PASS"
    noisy = measured(run="incremental-0", kind="incremental", graph_writes=2, items_changed=2)
    assert outcomes(noisy)["no change: 0 writes"] == "FAIL"
    changed = measured(kind="incremental", badges_changed_at_credly=200)
    assert "no change: 0 writes" not in outcomes(changed)
    assert "efficiency >= 0.4" not in outcomes(changed)
