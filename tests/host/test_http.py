"""The host's HTTP side: keys, request objects, and a function that raises (one line, 500)."""

from __future__ import annotations

import azure.functions as func
import pytest
import requests

from devstack.host.functions import FunctionTableError, HttpFunction, function_table
from devstack.host.http import serve_functions

KEY = "http-test-key"


def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = f"{req.method} {req.route_params['name']} {req.params.get('q')} {req.get_body()!r}"
    return func.HttpResponse(body, status_code=201, headers={"X-Seen": "1"})


def broken(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("storage went away")


FUNCTIONS = [
    HttpFunction("echo", "things/{name}", ("POST",), "FUNCTION", "req", echo),
    HttpFunction("broken", "broken", ("GET",), "FUNCTION", "req", broken),
    HttpFunction("open", "open/{name}", ("POST",), "ANONYMOUS", "req", echo),
]


def test_a_function_gets_a_real_http_request_and_its_response_is_sent() -> None:
    with serve_functions(FUNCTIONS, keys=[KEY]) as server:
        answer = requests.post(
            f"{server.base_url}/api/things/lamp?q=1&code={KEY}", data=b"on", timeout=10
        )

    assert answer.status_code == 201
    assert answer.text == "POST lamp 1 b'on'"
    assert answer.headers["X-Seen"] == "1"


def test_keys_are_required_except_for_anonymous_functions() -> None:
    with serve_functions(FUNCTIONS, keys=[KEY]) as server:
        missing = requests.post(f"{server.base_url}/api/things/lamp", timeout=10)
        wrong = requests.post(f"{server.base_url}/api/things/lamp?code=x", timeout=10)
        anonymous = requests.post(f"{server.base_url}/api/open/door", timeout=10)

    assert (missing.status_code, wrong.status_code, anonymous.status_code) == (401, 401, 201)


def test_a_function_that_raises_answers_500_and_logs_one_line(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with serve_functions(FUNCTIONS, keys=[KEY]) as server:
        answer = requests.get(f"{server.base_url}/api/broken?code={KEY}", timeout=10)

    assert answer.status_code == 500
    assert answer.content == b""
    assert [r.getMessage() for r in caplog.records] == [
        "broken failed: RuntimeError: storage went away"
    ]
    assert server.internal_errors == []
    assert "Traceback" not in capfd.readouterr().err


def test_an_async_function_is_refused_when_the_table_is_read() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
    async def work(msg: func.QueueMessage) -> None:
        return None

    with pytest.raises(FunctionTableError, match="work: async functions are not supported"):
        function_table(app.get_functions())
