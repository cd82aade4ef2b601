"""Teardown against the Graph stand-in and Azurite: listing, removing, idempotence, refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import azure.functions as func
import pytest

import function_app
from credly_connector.__main__ import main
from credly_connector.graph.profile_source import source_url
from credly_connector.ops.rebuild import rebuild
from credly_connector.ops.teardown import teardown, teardown_report
from devstack.graph.people_settings import ENTRA_SOURCE_URL
from tests.ops.setup_support import SETUP_CONNECTION, SetupStack

OURS = source_url(SETUP_CONNECTION)
OTHER = "https://graph.microsoft.com/v1.0/admin/people/profileSources(sourceId='workday')"


def _states(report: Any) -> dict[str, str]:
    return {step.name: step.state for step in report.steps}


def _provisioned(stack: SetupStack) -> None:
    """Setup, a full crawl (items exist), and a second setting that lists our source too."""
    assert stack.setup().ok
    stack.crawl_full()
    assert stack.graph.state.connectors.items(SETUP_CONNECTION)
    people = stack.graph.state.people_settings
    org_wide = next(s for s in people.property_settings() if s["name"] is None)
    people.update_property_setting(
        org_wide["id"], {"prioritizedSourceUrls": [OTHER, OURS, ENTRA_SOURCE_URL]}
    )
    people.create_property_setting({"name": "skills", "prioritizedSourceUrls": [OURS, OTHER]})


def _precedences(stack: SetupStack) -> dict[str | None, list[str]]:
    settings = stack.graph.state.people_settings.property_settings()
    return {s["name"]: s["prioritizedSourceUrls"] for s in settings}


def test_without_confirmation_it_lists_and_removes_nothing(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    _provisioned(stack)
    writes = stack.admin_writes()

    report = teardown_report(stack.context(), confirm=None, storage=True)

    assert _states(report) == {
        "precedence": "would remove",
        "profile source": "would remove",
        "connection": "would remove",
        "storage": "would remove",
    }
    assert report.status == 200
    assert "--confirm credlybadges" in report.render()
    assert stack.admin_writes() == writes
    assert stack.graph.state.connectors.exists(SETUP_CONNECTION)


def test_confirmed_teardown_removes_everything_and_keeps_other_sources_in_order(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack(schema_delay_s=12.0)
    _provisioned(stack)
    ctx = stack.context()

    report = teardown_report(
        ctx, confirm=SETUP_CONNECTION, storage=True, sleep=stack.time.sleep, clock=stack.time.clock
    )

    assert _states(report) == {
        "precedence": "removed",
        "profile source": "removed",
        "connection": "removed",
        "storage": "removed",
    }
    assert report.ok
    assert _precedences(stack) == {None: [OTHER, ENTRA_SOURCE_URL], "skills": [OTHER]}
    assert stack.graph.state.people_settings.profile_sources() == []
    assert not stack.graph.state.connectors.exists(SETUP_CONNECTION)
    # Graph answered 202 and an operation; teardown followed it on the stand-in's clock.
    assert stack.graph.server.requests.count("connections", "DELETE") == 1
    assert stack.time.slept, "the delete operation was not followed"
    names = {t.name for t in ctx.tables.service.list_tables()}
    assert not any(name.startswith(stack.env["STORAGE_PREFIX"]) for name in names)
    queues = {q.name for q in ctx.queues.service.list_queues()}
    assert not any(name.startswith(stack.env["STORAGE_PREFIX"]) for name in queues)


def test_second_teardown_finds_everything_absent(setup_stack: Callable[..., SetupStack]) -> None:
    stack = setup_stack()
    _provisioned(stack)
    assert teardown_report(stack.context(), confirm=SETUP_CONNECTION, storage=True).ok
    writes = stack.admin_writes()

    again = teardown_report(stack.context(), confirm=SETUP_CONNECTION, storage=True)

    assert set(_states(again).values()) == {"already absent"}
    assert again.ok
    assert stack.admin_writes() == writes


def test_a_delete_graph_is_still_running_is_reported_in_progress_then_done(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack(schema_delay_s=60.0)
    assert stack.setup().ok

    first = teardown_report(
        stack.context(),
        confirm=SETUP_CONNECTION,
        wait_s=10.0,
        sleep=stack.time.sleep,
        clock=stack.time.clock,
    )

    assert _states(first)["connection"] == "in progress"
    assert first.status == 202
    stack.time.now += 60.0
    second = teardown_report(stack.context(), confirm=SETUP_CONNECTION)
    assert _states(second)["connection"] == "already absent"
    assert second.ok


def test_cli_refuses_a_wrong_confirmation_naming_the_flag(
    setup_stack: Callable[..., SetupStack],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = setup_stack()
    assert stack.setup().ok
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)

    code = main(["teardown", "--confirm", "somethingelse"])

    assert code == 2
    err = capsys.readouterr().err
    assert "--confirm" in err
    assert "credlybadges" in err
    assert stack.graph.state.connectors.exists(SETUP_CONNECTION)


def test_cli_removes_with_the_right_confirmation(
    setup_stack: Callable[..., SetupStack],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = setup_stack()
    assert stack.setup().ok
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)

    code = main(["teardown", "--confirm", SETUP_CONNECTION, "--json"])

    assert code == 0
    body = json.loads(capsys.readouterr().out)
    assert body["confirmed"] is True
    assert {s["name"]: s["state"] for s in body["steps"]}["connection"] == "removed"
    assert not stack.graph.state.connectors.exists(SETUP_CONNECTION)


def test_route_lists_refuses_a_wrong_id_and_removes(
    setup_stack: Callable[..., SetupStack],
    indexed_functions: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = setup_stack()
    assert stack.setup().ok
    for name, value in stack.env.items():
        if name != "STORAGE_PREFIX":  # the bindings use fixed names
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(function_app, "_context", None)
    handler = indexed_functions["ops_teardown"].get_user_function()
    url = "https://connector.example/api/ops/teardown"

    def post(body: Any) -> func.HttpResponse:
        response: func.HttpResponse = handler(
            func.HttpRequest("POST", url, body=json.dumps(body).encode())
        )
        return response

    listed = post({})
    wrong = post({"confirm": "credlybadgez"})
    removed = post({"confirm": SETUP_CONNECTION})

    assert listed.status_code == 200
    assert json.loads(listed.get_body())["confirmed"] is False
    assert wrong.status_code == 400
    message = json.loads(wrong.get_body())["error"]["message"]
    assert '"confirm"' in message
    assert "credlybadges" in message
    assert removed.status_code == 200
    assert not stack.graph.state.connectors.exists(SETUP_CONNECTION)


@pytest.mark.parametrize(
    ("route", "body", "says"),
    [
        ("teardown", b"{not json", "not valid JSON"),
        ("teardown", b"[]", "JSON object"),
        ("teardown", b'{"confirm": "credlybadges", "force": true}', "Unknown field(s): force"),
        ("teardown", b'{"confirm": 7}', '"confirm" must be the connection id'),
        ("teardown", b'{"confirm": "credlybadges", "storage": "yes"}', '"storage" must be'),
        ("teardown", b'{"confirm": "credlybadges", "waitSeconds": 900}', '"waitSeconds"'),
        ("rebuild", b"{not json", "not valid JSON"),
        ("rebuild", b'{"to": 7}', '"to" is required'),
        ("rebuild", b'{"to": "credly-badges-2"}', "3-32 letters and digits"),
        ("rebuild", b'{"to": "credlybadges2", "waitSeconds": -1}', '"waitSeconds"'),
    ],
)
def test_bad_requests_are_400_and_change_nothing(
    setup_stack: Callable[..., SetupStack], route: str, body: bytes, says: str
) -> None:
    stack = setup_stack()
    assert stack.setup().ok
    writes = stack.admin_writes()
    handler = teardown if route == "teardown" else rebuild

    answer = handler(stack.context(), body)

    assert answer.status == 400, answer
    assert isinstance(answer.body, dict)
    assert says in answer.body["error"]["message"]
    assert stack.admin_writes() == writes
    assert not stack.graph.state.connectors.exists("credlybadges2")
