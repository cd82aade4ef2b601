"""Setup against the Graph stand-in: first run, second run, precedence, failures, bindings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import azure.functions as func
import pytest

import function_app
from credly_connector.__main__ import main
from credly_connector.graph.profile_source import source_url
from credly_connector.rules.items import PEOPLE_SCHEMA
from devstack.graph.app_registrations import App
from devstack.graph.people_settings import ENTRA_SOURCE_URL
from devstack.graph.rules.schema import schema_properties
from tests.ops.setup_support import SETUP_CONNECTION, SetupStack

OURS = source_url(SETUP_CONNECTION)
OTHER_A = "https://graph.microsoft.com/v1.0/admin/people/profileSources(sourceId='workday')"
OTHER_B = "https://graph.microsoft.com/v1.0/admin/people/profileSources(sourceId='bamboohr')"


def _states(report: Any) -> dict[str, str]:
    return {step.name: step.state for step in report.steps}


def _org_wide(stack: SetupStack) -> dict[str, Any]:
    settings = stack.graph.state.people_settings.property_settings()
    return next(s for s in settings if s["name"] is None)


def test_first_setup_provisions_everything_and_reports_schema_progress(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack(schema_delay_s=12.0)

    report = stack.setup(poll_s=5.0)

    assert _states(report) == {
        "connection": "created",
        "schema": "created",
        "profile source": "created",
        "precedence": "updated",
    }
    assert report.ok
    assert report.status == 200
    connection = stack.graph.state.connectors.connection(SETUP_CONNECTION)
    assert (connection["contentCategory"], connection["state"]) == ("people", "ready")
    registered = stack.graph.state.connectors.schema(SETUP_CONNECTION)["properties"]
    assert [dict(p) for p in registered] == PEOPLE_SCHEMA
    source = stack.graph.state.people_settings.profile_source(SETUP_CONNECTION)
    assert (source["displayName"], source["webUrl"]) == ("Credly", "https://www.credly.com")
    assert _org_wide(stack)["prioritizedSourceUrls"] == [OURS, ENTRA_SOURCE_URL]
    # The operation completes 12 s after it started; polls every 5 s on the injected clock.
    assert [p.status for p in stack.progress] == ["inprogress"] * 3 + ["completed"]
    assert [p.elapsed_s for p in stack.progress] == [0.0, 5.0, 10.0, 15.0]
    assert stack.time.slept == [5.0, 5.0, 5.0]


def test_second_setup_changes_nothing(setup_stack: Callable[..., SetupStack]) -> None:
    stack = setup_stack()
    assert stack.setup().ok
    writes = stack.admin_writes()
    assert writes > 0

    again = stack.setup()

    assert _states(again) == {
        "connection": "already present",
        "schema": "already present",
        "profile source": "already present",
        "precedence": "unchanged",
    }
    assert again.ok
    assert stack.admin_writes() == writes


def test_setup_keeps_other_sources_in_their_order(setup_stack: Callable[..., SetupStack]) -> None:
    stack = setup_stack()
    people = stack.graph.state.people_settings
    setting = _org_wide(stack)
    people.update_property_setting(
        setting["id"], {"prioritizedSourceUrls": [OTHER_A, ENTRA_SOURCE_URL, OURS, OTHER_B]}
    )

    report = stack.setup()

    assert _states(report)["precedence"] == "updated"
    assert _org_wide(stack)["prioritizedSourceUrls"] == [OURS, OTHER_A, ENTRA_SOURCE_URL, OTHER_B]


def test_failed_schema_operation_is_reported_with_graphs_error(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    stack.graph.state.connectors.fail_next_schema_operation(
        "The schema could not be provisioned.", code="InternalError"
    )

    report = stack.setup()

    schema = next(s for s in report.steps if s.name == "schema")
    assert schema.state == "failed"
    assert schema.cause == "InternalError: The schema could not be provisioned."
    assert "run setup again" in schema.fix
    assert not report.ok
    assert report.status == 502
    body = report.answer().body
    assert isinstance(body, dict)
    assert body["ok"] is False
    # The profile source does not depend on the schema and is registered anyway.
    assert _states(report)["profile source"] == "created"
    # A failed registration leaves no schema: the next run registers it.
    assert _states(stack.setup())["schema"] == "created"


def test_schema_still_registering_is_in_progress_and_picked_up_later(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack(schema_delay_s=100.0)

    first = stack.setup(wait_s=20.0, poll_s=5.0)
    assert _states(first)["schema"] == "in progress"
    assert first.status == 202
    second = stack.setup(wait_s=20.0, poll_s=5.0)
    assert _states(second)["schema"] == "in progress"
    assert "still running" in next(s for s in second.steps if s.name == "schema").detail

    stack.time.now += 100.0
    third = stack.setup()
    assert _states(third)["schema"] == "already present"
    assert third.ok


def test_a_different_registered_schema_is_compared_not_sent(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    connectors = stack.graph.state.connectors
    connectors.create_connection(
        {"id": SETUP_CONNECTION, "name": "Old", "contentCategory": "people"}
    )
    old = {"baseType": "microsoft.graph.externalItem", "properties": PEOPLE_SCHEMA[:3]}
    connectors.start_schema_operation(SETUP_CONNECTION, old, schema_properties(old))

    report = stack.setup()

    schema = next(s for s in report.steps if s.name == "schema")
    assert schema.state == "failed"
    assert "property 'skills' (stringCollection) is missing" in schema.cause
    assert "GRAPH_CONNECTION_ID" in schema.fix
    assert stack.graph.server.requests.count("schema", "PATCH") == 0


def test_a_connection_of_another_category_stops_setup(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    stack.graph.state.connectors.create_connection(
        {"id": SETUP_CONNECTION, "name": "Wiki", "contentCategory": "wikis"}
    )

    report = stack.setup()

    assert _states(report) == {
        "connection": "failed",
        "schema": "skipped",
        "profile source": "skipped",
        "precedence": "skipped",
    }
    assert "'wikis'" in report.steps[0].cause
    assert stack.admin_writes() == 0


def test_a_missing_permission_names_it_in_the_fix(setup_stack: Callable[..., SetupStack]) -> None:
    stack = setup_stack()
    stack.graph.register_app(
        App(client_id="limited", roles=frozenset({"ExternalConnection.ReadWrite.OwnedBy"}))
    )
    stack.env["GRAPH_ACCESS_TOKEN"] = stack.graph.token("limited")

    report = stack.setup()

    states = _states(report)
    assert (states["connection"], states["schema"]) == ("created", "created")
    source = next(s for s in report.steps if s.name == "profile source")
    assert source.state == "failed"
    assert "403" in source.cause
    assert "PeopleSettings.ReadWrite.All" in source.fix
    assert states["precedence"] == "skipped"


def test_setup_route_answers_the_steps(
    setup_stack: Callable[..., SetupStack],
    indexed_functions: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = setup_stack()
    for name, value in stack.env.items():
        if name != "STORAGE_PREFIX":  # the bindings use fixed names
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(function_app, "_context", None)
    handler = indexed_functions["ops_setup"].get_user_function()
    url = "https://connector.example/api/ops/setup"

    refused = handler(func.HttpRequest("POST", url, body=b'{"waitSeconds": "soon"}'))
    assert refused.status_code == 400
    answered = handler(func.HttpRequest("POST", url, body=b""))
    assert answered.status_code == 200
    body = json.loads(answered.get_body())
    assert body["ok"] is True
    # The fixed-name tables may exist already (other binding tests share them).
    assert body["steps"][0]["name"] == "storage"
    assert body["steps"][0]["state"] in {"created", "already present"}
    assert [s["state"] for s in body["steps"][1:]] == ["created", "created", "created", "updated"]
    again = json.loads(handler(func.HttpRequest("POST", url, body=b"{}")).get_body())
    assert [s["state"] for s in again["steps"]] == [
        "already present",
        "already present",
        "already present",
        "already present",
        "unchanged",
    ]


def test_setup_command_prints_steps_and_exits_by_result(
    setup_stack: Callable[..., SetupStack],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = setup_stack()
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)

    stack.graph.state.connectors.fail_next_schema_operation("Quota exceeded.", code="Quota")
    assert main(["setup"]) == 1
    failed = capsys.readouterr().out
    assert any(line.split()[:2] == ["schema", "failed"] for line in failed.splitlines())
    assert "cause: Quota: Quota exceeded." in failed

    assert main(["setup"]) == 0
    printed = capsys.readouterr().out
    assert "created" in printed
    assert "already present" in printed

    assert main(["setup", "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert {s["state"] for s in steps} == {"already present", "unchanged"}


def test_setup_says_it_must_run_as_the_app_and_what_a_later_403_means(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()

    report = stack.setup()

    assert report.ok
    note = report.render().splitlines()[-1]
    assert note.startswith("note: run setup as the app's own identity (POST /api/ops/setup)")
    assert "403" in note
    assert "teardown" in note
    body = report.answer().body
    assert isinstance(body, dict)
    assert body["identity"] == note.removeprefix("note: ")
