"""The bound functions themselves, driven with real HTTP requests and real queue messages."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

import function_app
from tests.pipeline.bound import bind_to_environment
from tests.pipeline.conftest import Pipeline

STAGE_FUNCTIONS = {
    "start": "crawl_start",
    "pages": "crawl_pages",
    "plan": "crawl_plan",
    "profiles": "crawl_profiles",
    "finish": "crawl_finish",
}
BASE = "https://connector.example/api/ops/crawls"


@pytest.fixture
def functions(indexed_functions: dict[str, Any]) -> dict[str, Any]:
    return {name: f.get_user_function() for name, f in indexed_functions.items()}


@pytest.fixture
def bound(make_pipeline, monkeypatch) -> Pipeline:
    """A pipeline whose settings are the process environment the bindings read."""
    pipeline: Pipeline = make_pipeline(badges=120, seed=21)
    bind_to_environment(pipeline, monkeypatch)
    return pipeline


def _post(functions: dict[str, Any], body: bytes) -> func.HttpResponse:
    response: func.HttpResponse = functions["ops_crawls_start"](
        func.HttpRequest("POST", BASE, body=body)
    )
    return response


def _drain(functions: dict[str, Any]) -> int:
    """Deliver every queued message to its bound function until the queues are empty."""
    ctx = function_app.context()
    delivered = 0
    for _ in range(10_000):
        moved = False
        for stage in ("finish", "profiles", "plan", "start", "pages"):
            for message in ctx.queues.client(stage).receive_messages(messages_per_page=32):
                functions[STAGE_FUNCTIONS[stage]](
                    QueueMessage(  # type: ignore[no-untyped-call]
                        id=message.id,
                        body=message.content.encode(),
                        dequeue_count=message.dequeue_count,
                    )
                )
                ctx.queues.client(stage).delete_message(message)
                delivered += 1
                moved = True
        if not moved:
            return delivered
    raise AssertionError("the queues never drained")


def test_a_crawl_requested_over_http_runs_through_the_bound_queue_functions(
    bound: Pipeline, functions: dict[str, Any]
) -> None:
    started = _post(functions, b'{"kind": "full"}')
    assert started.status_code == 202
    body = json.loads(started.get_body())
    assert body["statusUrl"] == f"{BASE}/{body['id']}"

    busy = _post(functions, b'{"kind": "incremental"}')
    assert busy.status_code == 409
    assert json.loads(busy.get_body())["error"]["runningCrawlId"] == body["id"]

    assert _drain(functions) > 3
    status = functions["ops_crawls_status"](
        func.HttpRequest(
            "GET", f"{BASE}/{body['id']}", body=b"", route_params={"crawl_id": body["id"]}
        )
    )
    record = json.loads(status.get_body())
    assert record["status"] == "succeeded", record
    assert record["counts"]["people_written"] == len(bound.expected())
    assert bound.stored() == bound.expected()

    listed = json.loads(
        functions["ops_crawls_list"](func.HttpRequest("GET", BASE, body=b"")).get_body()
    )
    assert listed["value"][0]["id"] == body["id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"kind": "partial"}', 400),
        (b'{"kind": "full", "extra": 1}', 400),
        (b"x" * 70_000, 413),
    ],
)
def test_bad_crawl_requests_get_a_4xx_and_start_nothing(
    bound: Pipeline, functions: dict[str, Any], body: bytes, status: int
) -> None:
    answer = _post(functions, body)

    assert answer.status_code == status
    assert json.loads(answer.get_body())["error"]["message"]
    assert function_app.context().crawls.latest(5) == []


def test_a_timer_crawl_while_one_runs_is_skipped(
    bound: Pipeline, functions: dict[str, Any]
) -> None:
    assert _post(functions, b'{"kind": "full"}').status_code == 202

    functions["incremental_crawl"](TimerRequest(past_due=False))

    assert len(function_app.context().crawls.latest(5)) == 1


def test_an_unknown_crawl_id_is_a_404_and_a_malformed_one_a_400(
    bound: Pipeline, functions: dict[str, Any]
) -> None:
    def get(crawl_id: str) -> int:
        request = func.HttpRequest(
            "GET", f"{BASE}/{crawl_id}", body=b"", route_params={"crawl_id": crawl_id}
        )
        return int(functions["ops_crawls_status"](request).status_code)

    assert get("9999999999999abcdef") == 404
    assert get("../../etc") == 400
