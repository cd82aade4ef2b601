"""`python -m devstack stack --env-file`: settings that work, through the connector's own code."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from credly_connector.graph.sdk import GRAPH_SCOPE
from credly_connector.ops.health_graph import credential_for
from credly_connector.runtime import build_context
from credly_connector.settings import HOST_SETTINGS, KNOWN_SETTINGS, load_settings
from devstack.connected import CONNECTION_ID
from devstack.credly.server import CredlyStandIn
from devstack.graph.server import GraphStandIn
from devstack.localstack import stack_settings
from devstack.synthetic import WorldSpec, build_world
from devstack.world_control import WORLD_URL_SETTING
from tests.devstack.test_envfile import sourced

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0


@dataclass
class RunningStack:
    """The `stack` process, its stdout so far, and the env file it wrote."""

    process: subprocess.Popen[str]
    stdout: list[str]
    env_file: Path


def _read_lines(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line.rstrip("\n"))
    lines.put(None)


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    env_file = tmp_path_factory.mktemp("stack") / ".env.local"
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "devstack",
            "stack",
            "--badges",
            "120",
            "--organisations",
            "2",
            "--env-file",
            str(env_file),
            "--host-port",
            "0",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process, lines), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(line.startswith("  curl ") for line in seen):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"stack ended early: {process.wait()} {seen}"
            seen.append(line)
        yield RunningStack(process, seen, env_file)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_the_env_file_holds_the_connector_settings_and_sh_reads_them(
    running_stack: RunningStack,
) -> None:
    env = sourced(running_stack.env_file)

    # then: only setting names the connector (or the Functions host) reads, and the
    # per-organisation credential settings that CREDLY_ORGANIZATIONS names
    organizations = json.loads(env["CREDLY_ORGANIZATIONS"])
    named = {entry["authTokenSetting"] for entry in organizations}
    assert len(organizations) == 2
    # (and where `python -m devstack change` finds the stack's world control)
    expected = set(KNOWN_SETTINGS) | set(HOST_SETTINGS) | named | {WORLD_URL_SETTING}
    assert set(env) == expected & set(env)
    assert env[WORLD_URL_SETTING].startswith("http://127.0.0.1:")
    assert named <= set(env)
    for required in (
        "AzureWebJobsStorage",
        "CREDLY_API_URL",
        "CREDLY_WEB_URL",
        "GRAPH_API_URL",
        "GRAPH_CONNECTION_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "GRAPH_CA_FILE",
    ):
        assert env[required], required
    assert "GRAPH_ACCESS_TOKEN" not in env  # the production route: an app secret
    assert env["GRAPH_API_URL"].startswith("https://127.0.0.1:")
    assert stat.S_IMODE(running_stack.env_file.stat().st_mode) == 0o600

    # and: the summary says where the file is and how to load it
    text = "\n".join(running_stack.stdout)
    assert f"settings written to {running_stack.env_file}" in text
    assert f"set -a; . {running_stack.env_file}; set +a" in text
    assert re.search(r"python -m devstack host --key \S+ --port \d+", text)


def test_the_connector_gets_graph_tokens_and_reads_graph_with_them(
    running_stack: RunningStack,
) -> None:
    settings = load_settings(sourced(running_stack.env_file))
    assert settings.graph.auth_mode == "client_secret"

    # when: the connector's credential asks the stand-in's token endpoint over TLS
    token = credential_for(settings.graph).get_token(GRAPH_SCOPE)
    assert token.token
    assert token.expires_on > time.time() + 600

    # and: the pipeline's own Graph session reads the connection the stack's setup made
    ctx = build_context(settings)

    async def read_connection() -> dict[str, object] | None:
        async with ctx.graph_session() as graph:
            return await graph.get_connection(CONNECTION_ID)

    connection = asyncio.run(read_connection())
    assert connection is not None
    assert connection["state"] == "ready"


def test_health_passes_everything_but_the_first_crawl(running_stack: RunningStack) -> None:
    env = {"PATH": os.environ["PATH"], **sourced(running_stack.env_file)}
    done = subprocess.run(
        [sys.executable, "-m", "credly_connector", "health", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    checks = json.loads(done.stdout)["checks"]
    failing = {c["name"]: c["detail"] for c in checks if c["status"] == "fail"}
    names = {c["name"] for c in checks}
    assert {"graph token", "graph connection", "graph schema", "graph profile source"} <= names
    assert sum(name.startswith("credly organisation ") for name in names) == 2
    assert set(failing) == {n for n in names if n.startswith("crawls ")}, failing
    assert set(failing.values()) == {"no crawl completed yet"}
    assert done.returncode == 1


def test_a_change_made_by_hand_reaches_the_running_stacks_world(
    running_stack: RunningStack,
) -> None:
    env = {**sourced(running_stack.env_file), "PATH": os.environ["PATH"]}

    done = subprocess.run(
        [sys.executable, "-m", "devstack", "change", "disable-user"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"\S+@\S+ was disabled in Entra ID\n", done.stdout), done.stdout


def test_ctrl_c_stops_everything_and_keeps_the_settings_file(running_stack: RunningStack) -> None:
    storage = sourced(running_stack.env_file)["AzureWebJobsStorage"]
    table_port = int(re.search(r"TableEndpoint=http://127.0.0.1:(\d+)/", storage).group(1))  # type: ignore[union-attr]

    running_stack.process.send_signal(signal.SIGINT)
    code = running_stack.process.wait(timeout=30)

    assert code == 0
    assert running_stack.process.stderr is not None
    errors = running_stack.process.stderr.read()
    assert "Traceback" not in errors
    assert "stack stopped" in errors
    assert running_stack.env_file.exists()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", table_port), timeout=2),
    ):
        pass  # Azurite stopped with the stack


def test_one_organisation_is_named_by_the_single_organisation_settings(tmp_path: Path) -> None:
    world = build_world(WorldSpec(seed=3, badges=30, organisations=1, now=datetime.now(UTC)))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("placeholder\n", encoding="utf-8")
    with (
        CredlyStandIn(world.credly) as credly,
        GraphStandIn(world.directory, tenant_id=world.tenant_id) as graph,
    ):
        env = stack_settings(world, "UseDevelopmentStorage=true", credly, graph, ca_file)
    org = world.credly.orgs[world.org_ids[0]]

    settings = load_settings(env)

    assert "CREDLY_ORGANIZATIONS" not in env
    assert settings.credly.organization_ids == (org.id,)
    assert settings.credly.primary.auth_token == org.tokens[0].token
    assert settings.graph.client_id == graph.apps[0].client_id
    assert settings.graph.ca_file == ca_file
    assert set(env) <= set(KNOWN_SETTINGS) | set(HOST_SETTINGS)


def test_a_settings_file_not_written_here_is_kept_and_nothing_starts(tmp_path: Path) -> None:
    mine = tmp_path / ".env.local"
    mine.write_text("MY_OWN=setting\n", encoding="utf-8")

    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "devstack", "stack", "--env-file", str(mine)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"stack: cannot write the settings: {mine} exists and was not written by python -m "
        "devstack; choose another --env-file, move the file away, or pass --force"
    ]
    assert mine.read_text(encoding="utf-8") == "MY_OWN=setting\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env.local"]
