"""`python -m devstack host` as a user runs it: the table, the ready line, bad storage, SIGTERM."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.azurite import Azurite, AzuriteEndpoints
from devstack.host.cli import READY_LINE
from devstack.standin import Knobs
from tests.host.conftest import HostStack, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM = ("PATH", "HOME", "LANG", "TMPDIR")


def _environment(settings: Mapping[str, str]) -> dict[str, str]:
    env = {name: os.environ[name] for name in SYSTEM if name in os.environ}
    return {**env, **settings, "PYTHONPATH": str(REPO_ROOT)}


def _run(args: list[str], settings: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "devstack", "host", *args],
        env=_environment(settings),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def _host_process(args: list[str], settings: Mapping[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "devstack", "host", *args],
        env=_environment(settings),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _ready_line(process: subprocess.Popen[str], timeout_s: float = 90.0) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=timeout_s), "no ready line"
    return process.stdout.readline().rstrip("\n")


def test_the_listed_function_table_equals_the_apps_bindings(
    indexed_functions: dict[str, Any],
) -> None:
    # Given the bindings the app declares, read with the Functions library itself.
    expected = []
    for name, function in indexed_functions.items():
        (trigger,) = [
            b
            for b in json.loads(function.get_function_json())["bindings"]
            if b["direction"] == "IN"
        ]
        row: dict[str, Any] = {"name": name}
        if trigger["type"] == "httpTrigger":
            row |= {"trigger": "http", "route": trigger["route"], "methods": trigger["methods"]}
            row["authLevel"] = trigger["authLevel"]
        elif trigger["type"] == "queueTrigger":
            row |= {"trigger": "queue", "queue": trigger["queueName"]}
            row["connection"] = trigger["connection"]
        else:
            row |= {"trigger": "timer", "schedule": trigger["schedule"]}
            row["useMonitor"] = trigger["useMonitor"]
        expected.append(row)

    # When the host lists the functions it runs.
    listed = _run(["--list"], {})

    # Then it runs every function of the app, each with its trigger's binding.
    assert listed.returncode == 0, listed.stderr
    assert sorted(json.loads(listed.stdout), key=lambda r: r["name"]) == sorted(
        expected, key=lambda r: r["name"]
    )
    triggers = {row["trigger"] for row in expected}
    assert triggers == {"http", "queue", "timer"}


def test_missing_storage_is_one_line_naming_the_setting_and_the_fix() -> None:
    answer = _run(["--port", "0"], {})

    assert answer.returncode == 2
    assert answer.stdout == ""
    (line,) = answer.stderr.strip().splitlines()
    assert "AzureWebJobsStorage is not set" in line
    assert "python -m devstack azurite" in line


def test_unreachable_storage_is_one_line_naming_the_setting_and_the_fix() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    storage = AzuriteEndpoints({"blob": port, "queue": port, "table": port}).connection_string

    answer = _run(["--port", "0"], {"AzureWebJobsStorage": storage})

    assert answer.returncode == 2
    (line,) = answer.stderr.strip().splitlines()
    assert "AzureWebJobsStorage" in line
    assert f"127.0.0.1:{port}" in line
    assert "not reachable" in line
    assert "Traceback" not in answer.stderr


def test_sigterm_lets_running_invocations_finish_exits_0_and_loses_nothing(
    make_host_stack: Callable[..., HostStack],
) -> None:
    # Given the host running from the command line, with Credly slow enough that pages
    # are still being read when SIGTERM comes.
    stack = make_host_stack(badges=300, seed=5, credly_knobs=Knobs(latency_s=1.0))
    args = ["--port", "0", "--no-timers", "--host-json", str(stack.host_json)]
    args += ["--message-lease", "4", "--key", "cli-test-key"]
    with _host_process(args, stack.env) as process:
        line = _ready_line(process)
        ready = READY_LINE.match(line)
        assert ready, line
        assert (ready["key"], ready["n"]) == ("cli-test-key", "1")
        url = f"{ready['url']}/ops/crawls?code=cli-test-key"
        answer = requests.post(url, json={"kind": "full"}, timeout=30)
        crawl_id = answer.json()["id"]
        status_url = f"{ready['url']}/ops/crawls/{crawl_id}?code=cli-test-key"
        wait_until(lambda: requests.get(status_url, timeout=30).json()["phase"] == "pages", "pages")
        time.sleep(0.5)

        # When it gets SIGTERM mid-crawl.
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        assert process.stderr is not None
        logged = process.stderr.read()

    # Then it let the running invocations finish and exited 0, without a traceback.
    assert code == 0, logged
    assert "Traceback" not in logged
    assert "letting" in logged
    assert "still running" not in logged
    # And nothing was lost: a new host finishes the crawl exactly.
    stack.pipeline.stack.credly.api.knobs.set_latency(0.0)
    host = stack.host(timers=False)
    assert stack.wait_crawl(host, crawl_id)["status"] == "succeeded"
    assert stack.pipeline.stored() == stack.pipeline.expected()


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({}, "CREDLY_ORGANIZATION_ID"),
        ({"STORAGE_PREFIX": "t1"}, "STORAGE_PREFIX is set"),
    ],
)
def test_settings_the_app_would_refuse_are_reported_at_start(
    azurite: Azurite, settings: dict[str, str], says: str
) -> None:
    answer = _run(["--port", "0"], {"AzureWebJobsStorage": azurite.connection_string, **settings})

    assert answer.returncode == 2
    assert says in answer.stderr
    assert "Traceback" not in answer.stderr
