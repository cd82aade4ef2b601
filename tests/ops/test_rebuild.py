"""Rebuild onto a new connection against the Graph stand-in and Azurite, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import azure.functions as func
import pytest

import function_app
from credly_connector.__main__ import main
from credly_connector.graph.profile_source import source_url, with_source_replaced, without_source
from credly_connector.ops.overrides import set_override
from credly_connector.ops.rebuild import RebuildRefusedError, rebuild, rebuild_report
from credly_connector.ops.rebuild_context import rebuild_context
from credly_connector.ops.steps_report import StepsReport
from credly_connector.ops.teardown import teardown_report
from credly_connector.stores.rebuilds import RebuildStore
from devstack.graph.people_settings import ENTRA_SOURCE_URL
from devstack.standin.knobs import Fault, FaultKind
from devstack.synthetic import EmailRelation
from tests.ops.setup_support import SETUP_CONNECTION, SetupStack

NEW = "credlybadges2"
OLD_URL, NEW_URL = source_url(SETUP_CONNECTION), source_url(NEW)
OTHER = "https://graph.microsoft.com/v1.0/admin/people/profileSources(sourceId='workday')"
WAIT_S = 300.0


def _states(report: StepsReport) -> dict[str, str]:
    return {step.name: step.state for step in report.steps}


def _serving(stack: SetupStack, *, badges: bool = True) -> dict[str, Any]:
    """Setup, a full crawl, and another source ahead of ours; the old connection's items."""
    assert stack.setup().ok
    stack.crawl_full()
    people = stack.graph.state.people_settings
    org_wide = next(s for s in people.property_settings() if s["name"] is None)
    people.update_property_setting(
        org_wide["id"], {"prioritizedSourceUrls": [OTHER, OLD_URL, ENTRA_SOURCE_URL]}
    )
    items = stack.graph.state.connectors.items(SETUP_CONNECTION)
    assert items or not badges
    return items


def _precedence(stack: SetupStack) -> list[str]:
    settings = stack.graph.state.people_settings.property_settings()
    return list(next(s for s in settings if s["name"] is None)["prioritizedSourceUrls"])


def _assert_rebuilt(stack: SetupStack, report: StepsReport, expected: dict[str, Any]) -> None:
    """Old connection and source gone, new items exact, precedence swapped in place."""
    assert report.ok, report.render()
    connectors = stack.graph.state.connectors
    assert not connectors.exists(SETUP_CONNECTION)
    assert connectors.items(NEW) == expected
    assert _precedence(stack) == [OTHER, NEW_URL, ENTRA_SOURCE_URL]
    sources = stack.graph.state.people_settings.profile_sources()
    assert [s["sourceId"] for s in sources] == [NEW]
    ctx = stack.context()
    # The live people table now says what the new connection holds.
    assert {r.item_id for r in ctx.people.records()} == set(expected)
    tables = {t.name for t in ctx.tables.service.list_tables()}
    assert rebuild_context(ctx, NEW).tables.name("people") not in tables


def test_rebuild_moves_every_item_to_the_new_connection_and_swaps_in_place(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    before = _serving(stack)

    report = rebuild_report(stack.context(), NEW, wait_s=WAIT_S)

    assert set(_states(report).values()) <= {"created", "updated", "removed"}
    assert list(_states(report)) == [
        "provision",
        "crawl",
        "catch up",
        "swap",
        "remove old",
        "records",
    ]
    _assert_rebuilt(stack, report, before)
    text = report.render()
    assert f"GRAPH_CONNECTION_ID to {NEW}" in text
    assert "graphConnectionId" in text


def _override_target(stack: SetupStack) -> tuple[str, str]:
    """An email with shown badges, and the UPN of another user with shown badges."""
    ctx = stack.context()
    holders = {r.user_id: r.user_principal_name for r in ctx.people.records()}
    matched = [
        p
        for p in stack.world.people
        if p.email_relation is EmailRelation.MAIL and p.directory_user_id in holders
    ]
    assert len(matched) >= 2
    return matched[0].credly_email, holders[str(matched[1].directory_user_id)]


def test_rebuild_stopped_by_a_failure_resumes_and_catches_up_live_writes(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    _serving(stack)
    stack.graph.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="profile", method="PATCH", status=403, times=1)
    )

    first = rebuild_report(stack.context(), NEW, wait_s=WAIT_S)

    assert _states(first)["swap"] == "failed"
    assert first.status == 502
    assert _states(first)["remove old"] == "skipped"
    # The old connection still serves profiles; the new one is filled already.
    assert stack.graph.state.connectors.exists(SETUP_CONNECTION)
    assert OLD_URL in _precedence(stack)
    crawls = first.facts["crawls"]
    # A live writer (an override recomposes at once) changes items in the old connection.
    email, upn = _override_target(stack)
    changed = set_override(
        stack.context(), email, json.dumps({"userPrincipalName": upn}).encode(), actor="test"
    )
    assert changed.status in {200, 201}, changed
    expected = stack.graph.state.connectors.items(SETUP_CONNECTION)
    assert expected != stack.graph.state.connectors.items(NEW)

    second = rebuild_report(stack.context(), NEW, wait_s=WAIT_S)

    states = _states(second)
    assert (states["provision"], states["crawl"]) == ("done earlier", "done earlier")
    assert states["catch up"] == "updated"
    assert "0 written" not in second.steps[2].detail
    assert second.facts["crawls"] == crawls
    _assert_rebuilt(stack, second, expected)


def test_rebuild_interrupted_during_its_crawl_continues_that_crawl(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack(badges=60)
    before = _serving(stack)

    # The route's core, with no time to wait: provisioned, its crawl started, 202; on a
    # worker thread, as the Functions host runs a synchronous function.
    request = json.dumps({"to": NEW, "waitSeconds": 0}).encode()
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(rebuild, stack.context(), request).result()

    assert first.status == 202
    body = first.body
    assert isinstance(body, dict)
    assert {s["name"]: s["state"] for s in body["steps"]}["crawl"] == "in progress"
    assert "--to credlybadges2" in body["next"][0]
    (crawl_id,) = body["crawls"].values()

    second = rebuild_report(stack.context(), NEW, wait_s=WAIT_S)

    assert second.facts["crawls"] == body["crawls"]
    crawl = stack.context().crawls.get(crawl_id)
    assert crawl is not None
    assert crawl.status == "succeeded"
    _assert_rebuilt(stack, second, before)


def test_rebuild_refuses_the_connection_in_use_and_a_second_target(
    setup_stack: Callable[..., SetupStack],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = setup_stack()
    assert stack.setup().ok
    stack.graph.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="connections", method="POST", status=403, times=1)
    )
    started = rebuild_report(stack.context(), NEW, wait_s=WAIT_S)
    assert _states(started)["provision"] == "failed"
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(RebuildRefusedError, match="in use"):
        rebuild_report(stack.context(), SETUP_CONNECTION)
    code = main(["rebuild", "--to", "credlybadges3", "--quiet"])

    assert code == 2
    err = capsys.readouterr().err
    assert "--to credlybadges2" in err
    assert "under way" in err
    assert main(["rebuild", "--to", NEW, "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    conflict = rebuild(stack.context(), b'{"to": "credlybadges3"}')
    assert conflict.status == 409
    assert isinstance(conflict.body, dict)
    assert '"to" credlybadges2' in conflict.body["error"]["message"]
    listed = teardown_report(stack.context(), confirm=None)
    assert "rebuild onto connection credlybadges2" in listed.render()


def test_rebuild_route_refuses_a_missing_or_current_id(
    setup_stack: Callable[..., SetupStack],
    indexed_functions: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = setup_stack()
    for name, value in stack.env.items():
        if name != "STORAGE_PREFIX":  # the bindings use fixed names
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(function_app, "_context", None)
    handler = indexed_functions["ops_rebuild"].get_user_function()
    url = "https://connector.example/api/ops/rebuild"

    missing = handler(func.HttpRequest("POST", url, body=b"{}"))
    current = handler(func.HttpRequest("POST", url, body=b'{"to": "credlybadges"}'))

    assert missing.status_code == 400
    assert '"to" is required' in json.loads(missing.get_body())["error"]["message"]
    assert current.status_code == 400
    assert "in use" in json.loads(current.get_body())["error"]["message"]
    assert not stack.graph.state.connectors.exists(NEW)


def test_rebuild_stopped_after_deleting_its_table_finishes_without_it(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    before = _serving(stack)
    assert rebuild_report(stack.context(), NEW, wait_s=WAIT_S).ok
    # As if the run had stopped after the records step deleted its table, before saving.
    store = RebuildStore(stack.context().tables)
    record = store.get()
    assert record is not None
    store.save(replace(record, finished=record.finished[:-1]))

    again = rebuild_report(stack.context(), NEW, wait_s=WAIT_S)

    assert _states(again)["records"] == "updated"
    assert "earlier run" in again.steps[-1].detail
    _assert_rebuilt(stack, again, before)


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        (["a", "OLD", "b"], ["a", "NEW", "b"]),
        (["old", "new", "b"], ["NEW", "b"]),
        (["a", "b"], ["a", "b"]),
        ([], []),
    ],
)
def test_the_new_source_takes_the_old_ones_place(urls: list[str], expected: list[str]) -> None:
    assert with_source_replaced(urls, "old", "NEW") == expected


def test_without_source_keeps_the_others_in_order() -> None:
    assert without_source(["a", "OURS", "b", "ours"], "ours") == ["a", "b"]
