"""Timers: seconds schedules start crawls; each occurrence fires once across instances."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from azure.data.tables import TableClient, TableServiceClient
from azure.functions.timer import TimerRequest

from devstack.azurite import Azurite
from devstack.host.functions import TimerFunction
from devstack.host.invocations import Invocations
from devstack.host.ncrontab import parse_schedule
from devstack.host.timers import STATUS_ROW, TIMER_TABLE, TimerRunner
from tests.host.conftest import HostStack, wait_until

NEVER_SOON = "0 0 0 1 1 *"  # New Year's midnight


def test_a_seconds_schedule_starts_a_crawl_on_a_two_instance_host(
    make_host_stack: Callable[..., HostStack],
) -> None:
    # Given an incremental schedule every 3 seconds and two host instances.
    stack = make_host_stack(
        env={"INCREMENTAL_CRAWL_SCHEDULE": "*/3 * * * * *", "FULL_CRAWL_SCHEDULE": NEVER_SOON}
    )
    host = stack.host(instances=2)

    # When the host runs a few seconds.
    def timer_crawls() -> list[dict[str, Any]]:
        answer = requests.get(host.url("ops/crawls"), timeout=30)
        return [c for c in answer.json()["value"] if c["trigger"] == "timer"]

    wait_until(lambda: bool(timer_crawls()), "a crawl started by the timer", timeout_s=30)

    # Then the timer started an incremental crawl, which the queue triggers ran to success.
    crawl = timer_crawls()[-1]
    assert crawl["kind"] == "incremental"
    assert stack.wait_crawl(host, crawl["id"])["status"] == "succeeded"


def _runner(
    table: Any,
    fired: list[TimerRequest],
    stopping: threading.Event,
    schedule: str,
    *,
    run_on_startup: bool = False,
) -> TimerRunner:
    lock = threading.Lock()

    def tick(timer: TimerRequest) -> None:
        with lock:
            fired.append(timer)

    function = TimerFunction("tick", schedule, True, run_on_startup, "timer", tick)
    return TimerRunner(
        function,
        parse_schedule(schedule),
        table,
        invocations=Invocations(2),
        stopping=stopping,
    )


def _timer_table(azurite: Azurite) -> TableClient:
    """The host's timer table, without rows of the `tick` timer of these tests."""
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    table = tables.create_table_if_not_exists(TIMER_TABLE)
    for entity in table.query_entities("PartitionKey eq 'tick'"):
        table.delete_entity(entity["PartitionKey"], entity["RowKey"])
    return table


def test_each_occurrence_fires_once_across_two_instances(azurite: Azurite) -> None:
    # Given two instances' timer runners of one every-second timer on the same storage.
    table = _timer_table(azurite)
    fired: list[TimerRequest] = []
    stopping = threading.Event()
    runners = [_runner(table, fired, stopping, "* * * * * *") for _ in range(2)]

    # When both run for about four seconds.
    for runner in runners:
        runner.thread.start()
    time.sleep(4.2)
    stopping.set()
    for runner in runners:
        runner.thread.join(timeout=10)
    for runner in runners:
        assert runner.invocations.drain(5)

    # Then every occurrence was claimed by one instance and fired once, never twice.
    rows = table.query_entities("PartitionKey eq 'tick'")
    claims = [row["RowKey"] for row in rows if row["RowKey"] != STATUS_ROW]
    assert 3 <= len(claims) <= 5
    assert len(fired) == len(claims)
    assert not any(timer.past_due for timer in fired)


def test_a_run_on_startup_timer_fires_when_its_instance_starts(azurite: Azurite) -> None:
    table = _timer_table(azurite)
    fired: list[TimerRequest] = []
    stopping = threading.Event()
    runner = _runner(table, fired, stopping, NEVER_SOON, run_on_startup=True)

    runner.thread.start()
    wait_until(lambda: len(fired) == 1, "the startup firing", timeout_s=10)
    stopping.set()
    runner.thread.join(timeout=10)
    assert runner.invocations.drain(5)

    assert [timer.past_due for timer in fired] == [False]


def test_an_occurrence_missed_while_no_instance_ran_fires_once_at_start_past_due(
    azurite: Azurite,
) -> None:
    # Given a timer every ten minutes whose last recorded firing was over half an hour ago.
    table = _timer_table(azurite)
    ago = datetime.now(UTC) - timedelta(minutes=30)
    last = ago.replace(minute=ago.minute - ago.minute % 10, second=0, microsecond=0)
    table.upsert_entity(
        {"PartitionKey": "tick", "RowKey": STATUS_ROW, "Last": last.strftime("%Y%m%dT%H%M%SZ")}
    )
    fired: list[TimerRequest] = []
    stopping = threading.Event()

    # When two instances start at once.
    runners = [_runner(table, fired, stopping, "0 */10 * * * *") for _ in range(2)]
    for runner in runners:
        runner.thread.start()
    wait_until(lambda: len(fired) >= 1, "the past-due firing", timeout_s=10)
    time.sleep(0.5)
    stopping.set()
    for runner in runners:
        runner.thread.join(timeout=10)
        assert runner.invocations.drain(5)

    # Then the missed occurrence fired once, past due (a regular one may fire too, if the
    # test runs on a ten-minute mark).
    assert [timer.past_due for timer in fired].count(True) == 1
