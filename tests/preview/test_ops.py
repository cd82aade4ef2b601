"""Dry runs and previews through the bound HTTP functions and through the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage

import function_app
from credly_connector.__main__ import main
from credly_connector.pipeline.messages import STAGES
from tests.pipeline.bound import bind_to_environment
from tests.pipeline.conftest import Pipeline
from tests.preview.conftest import raw_items

BASE = "https://connector.example/api/ops/crawls"
STAGE_FUNCTIONS = {stage: f"crawl_{stage}" for stage in STAGES}


@pytest.fixture
def functions(indexed_functions: dict[str, Any]) -> dict[str, Any]:
    return {name: f.get_user_function() for name, f in indexed_functions.items()}


@pytest.fixture
def bound(make_pipeline, monkeypatch) -> Pipeline:
    """A pipeline whose settings are the process environment the bindings read."""
    pipeline: Pipeline = make_pipeline(badges=120, seed=23)
    bind_to_environment(pipeline, monkeypatch)
    return pipeline


def _drain(functions: dict[str, Any]) -> None:
    """Deliver every queued crawl message to its bound function until the queues are empty."""
    ctx = function_app.context()
    for _ in range(10_000):
        moved = False
        for stage in reversed(STAGES):
            for message in ctx.queues.client(stage).receive_messages(messages_per_page=32):
                functions[STAGE_FUNCTIONS[stage]](
                    QueueMessage(  # type: ignore[no-untyped-call]
                        id=message.id,
                        body=message.content.encode(),
                        dequeue_count=message.dequeue_count,
                    )
                )
                ctx.queues.client(stage).delete_message(message)
                moved = True
        if not moved:
            return
    raise AssertionError("the queues never drained")


def _get(functions: dict[str, Any], name: str, crawl_id: str, **params: str) -> Any:
    request = func.HttpRequest(
        "GET", f"{BASE}/{crawl_id}", body=b"", route_params={"crawl_id": crawl_id}, params=params
    )
    response = functions[name](request)
    return response.status_code, json.loads(response.get_body())


def test_a_dry_run_requested_over_http_writes_nothing_and_its_preview_is_served(
    bound: Pipeline, functions: dict[str, Any]
) -> None:
    started = functions["ops_crawls_start"](
        func.HttpRequest("POST", BASE, body=b'{"kind": "full", "dryRun": true}')
    )
    assert started.status_code == 202
    crawl_id = json.loads(started.get_body())["id"]

    _drain(functions)

    status, record = _get(functions, "ops_crawls_status", crawl_id)
    assert (status, record["status"], record["dryRun"]) == (200, "succeeded", True)
    assert (bound.writes(), bound.deletes()) == (0, 0)
    people = record["counts"]["people_written"]
    assert people == len(bound.expected()) > 2
    status, first = _get(functions, "ops_crawls_preview", crawl_id, limit="2")
    assert status == 200
    assert first["crawl"]["id"] == crawl_id
    assert first["skipped"] == record["counts"]["skipped"]
    assert [p["action"] for p in first["people"]] == ["create", "create"]
    _, rest = _get(functions, "ops_crawls_preview", crawl_id, after=first["next"], limit="1000")
    assert rest["next"] is None
    assert len(first["people"]) + len(rest["people"]) == people


def test_the_preview_route_refuses_unknown_malformed_and_real_crawls(
    bound: Pipeline, functions: dict[str, Any]
) -> None:
    real = functions["ops_crawls_start"](func.HttpRequest("POST", BASE, body=b'{"kind": "full"}'))
    real_id = json.loads(real.get_body())["id"]
    _drain(functions)

    assert _get(functions, "ops_crawls_preview", "9999999999999abcdef")[0] == 404
    assert _get(functions, "ops_crawls_preview", "../../etc")[0] == 400
    status, body = _get(functions, "ops_crawls_preview", real_id)
    assert status == 409
    assert "not a dry run" in body["error"]["message"]


def test_the_command_line_runs_a_dry_run_and_renders_its_preview_page(
    make_pipeline, monkeypatch, tmp_path: Path, capsys
) -> None:
    pipeline: Pipeline = make_pipeline(badges=120, seed=29)
    for name, value in pipeline.stack.env.items():
        monkeypatch.setenv(name, value)
    assert main(["preview", "--out", str(tmp_path)]) == 1  # no dry run yet

    assert main(["crawl", "--kind", "full", "--dry-run", "--quiet"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert main(["preview", "--out", str(tmp_path / "page")]) == 0

    printed = capsys.readouterr().out.strip()
    assert printed == str(tmp_path / "page" / "index.html")
    page = Path(printed).read_text(encoding="utf-8")
    assert raw_items(pipeline) == {}
    for item in pipeline.expected().values():
        assert item["account"]["userPrincipalName"] in page
    assert page.count('<article class="card create"') == len(pipeline.expected())
    assert main(["preview", "--out", str(tmp_path), "--crawl", "9999999999999abcdef"]) == 1
