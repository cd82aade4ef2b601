"""The host's invocation log: one JSON line per queue invocation, from every instance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devstack.host.invocation_log import FAILED, SUCCEEDED, TIMED_OUT, read_invocations
from devstack.standin import Knobs
from devstack.standin.knobs import Fault, FaultKind
from tests.host.conftest import TEST_QUEUES, HostStack, wait_until
from tests.host.test_timeouts import CREDLY_LATENCY_S, TIMEOUT_S

STAGES = ("crawl_start", "crawl_pages", "crawl_plan", "crawl_profiles", "crawl_finish")


def test_every_queue_invocation_of_a_crawl_is_one_line_naming_its_queue_and_instance(
    make_host_stack: Callable[..., HostStack], tmp_path: Path
) -> None:
    # Given two instances logging their invocations to one file.
    stack = make_host_stack(badges=250, seed=11)
    log = tmp_path / "invocations.jsonl"
    host = stack.host(instances=2, timers=False, invocation_log=log)

    # When a full crawl is requested over HTTP and runs to its end.
    crawl_id = stack.request_crawl(host)
    assert stack.wait_crawl(host, crawl_id)["status"] == "succeeded"
    pids = set(host.instance_pids)
    host.stop()

    # Then every stage's function was logged, each line naming its queue and instance,
    # with a start, a duration and its outcome.
    records = list(read_invocations(log))
    functions = {r.function for r in records}
    assert set(STAGES) <= functions
    pages = [r for r in records if r.function == "crawl_pages"]
    assert len(pages) >= 3  # 250 badges: 5 pages of 50, two to a message
    for record in records:
        assert record.trigger == record.function.replace("_", "-")
        assert record.instance in {0, 1}
        assert record.pid in pids
        assert record.outcome == SUCCEEDED
        assert 0 <= record.duration_s < 60
        assert record.start > 1.7e9
    # And the stages ran one after the other: the finish began after the last page ended.
    finish = next(r for r in records if r.function == "crawl_finish")
    assert finish.start_monotonic >= max(r.end_monotonic for r in pages) - 0.01
    # And an instance's lines all carry its one process.
    assert len({(r.instance, r.pid) for r in records}) == len({r.instance for r in records})


def test_a_failing_invocation_is_logged_as_failed_once_per_delivery(
    make_host_stack: Callable[..., HostStack], tmp_path: Path
) -> None:
    # Given Credly refusing page 2 every time, and one instance logging its invocations.
    stack = make_host_stack(badges=100, seed=37)
    stack.pipeline.stack.credly.api.knobs.add_fault(
        Fault(FaultKind.STATUS, status=400, route_class="badges", query={"page": "2"}, times=None)
    )
    log = tmp_path / "invocations.jsonl"
    host = stack.host(timers=False, invocation_log=log)

    # When a full crawl runs to its (failed) end.
    crawl_id = stack.request_crawl(host)
    assert stack.wait_crawl(host, crawl_id)["status"] == "failed"
    host.stop()

    # Then page 2's message failed once per delivery, each a line of its own, and its poison
    # trigger's invocation is logged under the poison queue.
    records = list(read_invocations(log))
    failed = [r for r in records if r.outcome == FAILED]
    assert len(failed) == int(TEST_QUEUES["maxDequeueCount"])
    assert {(r.function, r.trigger) for r in failed} == {("crawl_pages", "crawl-pages")}
    assert [r.detail.rsplit(" ", 1)[1] for r in failed] == ["1", "2", "3"]
    poison = [r for r in records if r.trigger == "crawl-pages-poison"]
    assert [(r.function, r.outcome) for r in poison] == [("crawl_pages_poison", SUCCEEDED)]


def test_an_invocation_outliving_the_function_timeout_is_logged_before_its_worker_goes(
    make_host_stack: Callable[..., HostStack], tmp_path: Path
) -> None:
    # Given Credly answering after 10 s, a function timeout of 5 s, and an invocation log.
    stack = make_host_stack(seed=3, credly_knobs=Knobs(latency_s=CREDLY_LATENCY_S))
    log = tmp_path / "invocations.jsonl"
    host = stack.host(
        timers=False, function_timeout_s=TIMEOUT_S, message_lease_s=3.0, invocation_log=log
    )

    # When a crawl's start stage (which reads Credly) outlives the timeout.
    crawl_id = stack.request_crawl(host)
    wait_until(lambda: host.restarts >= 1, "an instance restart", timeout_s=30)
    stack.pipeline.stack.credly.api.knobs.set_latency(0.0)
    assert stack.wait_crawl(host, crawl_id)["status"] == "succeeded"
    host.stop()

    # Then its line says it timed out after about the timeout, and the next delivery (by the
    # replacement instance, another process) succeeded.
    starts = [r for r in read_invocations(log) if r.function == "crawl_start"]
    assert [r.outcome for r in starts] == [TIMED_OUT, SUCCEEDED]
    assert TIMEOUT_S <= starts[0].duration_s < CREDLY_LATENCY_S
    assert starts[0].pid != starts[1].pid
