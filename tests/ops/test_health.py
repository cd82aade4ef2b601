"""Health against the stand-ins: all green, and each troubleshooting row as a failed check."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import azure.functions as func
import pytest

import function_app
from credly_connector.__main__ import main
from credly_connector.graph.profile_source import source_url
from credly_connector.ops.checks import Check
from credly_connector.ops.health import HealthReport
from devstack.graph.people_settings import ENTRA_SOURCE_URL
from tests.ops.setup_support import SETUP_CONNECTION, SetupStack, setup_json

FIRST_CRAWL_FIX = 'POST /api/ops/crawls {"kind": "full"}'


def _check(report: HealthReport, name: str) -> Check:
    return next(check for check in report.checks if check.name == name)


def _failed(report: HealthReport) -> dict[str, Check]:
    return {check.name: check for check in report.checks if not check.ok}


def _secrets(stack: SetupStack) -> list[str]:
    names = ("CREDLY_AUTH_TOKEN", "CREDLY_CLIENT_SECRET", "GRAPH_ACCESS_TOKEN")
    return [stack.env[name] for name in names if name in stack.env]


def test_all_green_after_setup_and_a_full_crawl(setup_stack: Callable[..., SetupStack]) -> None:
    stack = setup_stack()
    org = stack.organization_id
    assert stack.setup().ok
    stack.crawl_full()

    report = stack.health()

    assert _failed(report) == {}
    assert report.ok
    assert report.answer().status == 200
    assert [check.name for check in report.checks] == [
        "settings",
        f"credly organisation {org}",
        f"credly token expiry {org}",
        "graph token",
        "graph connection",
        "graph schema",
        "graph profile source",
        "graph precedence",
        f"crawls {org}",
    ]
    assert "(production)" in _check(report, f"credly organisation {org}").detail
    assert "days left" in _check(report, f"credly token expiry {org}").detail
    assert "last full crawl 20" in _check(report, f"crawls {org}").detail
    assert "last incremental crawl none yet" in _check(report, f"crawls {org}").detail
    body = setup_json(report)
    assert all(secret not in body for secret in _secrets(stack))


def test_no_crawl_yet_is_a_failed_check_with_the_first_crawl_as_fix(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    assert stack.setup().ok

    report = stack.health()

    failed = _failed(report)
    assert list(failed) == [f"crawls {stack.organization_id}"]
    check = failed[f"crawls {stack.organization_id}"]
    assert check.detail == "no crawl completed yet"
    assert "run setup" in check.fix
    assert FIRST_CRAWL_FIX in check.fix
    assert report.answer().status == 503


def test_organisation_id_not_a_guid_fails_the_settings_check(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    env = {**stack.env, "CREDLY_ORGANIZATION_ID": "acme-org-42"}

    report = stack.health(env)

    check = _check(report, "setting CREDLY_ORGANIZATION_ID")
    assert not check.ok
    assert "'acme-org-42' is not a GUID" in check.cause
    assert "Credly Developers portal" in check.fix
    answer = report.answer()
    assert answer.status == 503
    assert isinstance(answer.body, dict)
    assert answer.body["notChecked"] == [
        "credly",
        "graph",
        "crawls",
    ]
    assert all(secret not in setup_json(report) for secret in _secrets(stack))


def test_wrong_token_names_the_setting_and_never_shows_it(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    wrong = "not-the-organisations-token-0123456789"
    env = {**stack.env, "CREDLY_AUTH_TOKEN": wrong}

    report = stack.health(env)

    check = _check(report, f"credly organisation {stack.organization_id}")
    assert not check.ok
    assert "401" in check.cause
    assert "check CREDLY_AUTH_TOKEN" in check.fix
    assert "180 days" in check.fix
    assert wrong not in setup_json(report)
    assert f"credly token expiry {stack.organization_id}" not in [c.name for c in report.checks]


def test_wrong_client_secret_points_at_the_oauth_application(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack(oauth=True)
    wrong = "a-client-secret-that-was-never-issued"
    env = {**stack.env, "CREDLY_CLIENT_SECRET": wrong}

    report = stack.health(env)

    check = _check(report, f"credly organisation {stack.organization_id}")
    assert not check.ok
    assert "401 invalid_client" in check.cause
    assert "CREDLY_CLIENT_ID and CREDLY_CLIENT_SECRET" in check.fix
    assert "create a new OAuth application" in check.fix
    assert wrong not in setup_json(report)


@pytest.mark.parametrize("oauth", [False, True], ids=["token", "oauth"])
def test_sandbox_credentials_on_the_production_endpoint_are_named(
    setup_stack: Callable[..., SetupStack], oauth: bool
) -> None:
    stack = setup_stack(oauth=oauth)
    # The configured endpoint is "production" (knows none of the world's credentials); the
    # world's Credly plays the sandbox.
    env = {
        **stack.env,
        "CREDLY_API_URL": stack.other_credly.api_url,
        "CREDLY_WEB_URL": stack.other_credly.web_url,
    }

    report = stack.health(env, environments=stack.environments(credentials_in_sandbox=True))

    check = _check(report, f"credly organisation {stack.organization_id}")
    assert not check.ok
    assert "refused by the production API" in check.detail
    assert "belong to the sandbox environment" in check.cause
    assert f"set CREDLY_API_URL to {stack.credly.api_url}" in check.fix
    assert f"CREDLY_WEB_URL to {stack.credly.web_url}" in check.fix


def test_missing_connection_fails_graph_checks_with_run_setup(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()

    report = stack.health()

    failed = _failed(report)
    assert set(failed) == {
        "graph connection",
        "graph profile source",
        "graph precedence",
        f"crawls {stack.organization_id}",
    }
    connection = failed["graph connection"]
    assert f"connection {SETUP_CONNECTION} does not exist" in connection.cause
    assert "run setup" in connection.fix
    assert "graph schema" not in [c.name for c in report.checks]
    assert _check(report, "graph token").ok


def test_profile_source_not_first_fails_the_precedence_check(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    assert stack.setup().ok
    people = stack.graph.state.people_settings
    setting = next(s for s in people.property_settings() if s["name"] is None)
    people.update_property_setting(
        setting["id"],
        {"prioritizedSourceUrls": [ENTRA_SOURCE_URL, source_url(SETUP_CONNECTION)]},
    )

    report = stack.health()

    check = _check(report, "graph precedence")
    assert not check.ok
    assert check.detail == "Credly is number 2 of 2"
    assert ENTRA_SOURCE_URL in check.cause
    assert "puts Credly first" in check.fix
    assert stack.setup().ok
    assert _check(stack.health(), "graph precedence").ok


def test_connection_still_draft_is_not_ready(setup_stack: Callable[..., SetupStack]) -> None:
    stack = setup_stack(schema_delay_s=600.0)
    assert stack.setup(wait_s=0.0).status == 202

    report = stack.health()

    connection = _check(report, "graph connection")
    assert (connection.ok, connection.detail) == (False, f"connection {SETUP_CONNECTION} is draft")
    assert "let the schema operation complete" in connection.fix
    assert not _check(report, "graph schema").ok


def test_token_expiring_within_30_days_warns_but_passes(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack(token_lifetime=timedelta(days=10))

    report = stack.health()

    check = _check(report, f"credly token expiry {stack.organization_id}")
    assert (check.ok, check.status) == (True, "warn")
    assert "days left" in check.detail
    assert "expires within 30 days" in check.cause
    assert "CREDLY_AUTH_TOKEN" in check.fix


def test_each_configured_organisation_is_checked_with_its_own_settings(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack(organisations=2)
    first, second = stack.world.org_ids
    orgs = [
        {"id": first, "authTokenSetting": "CREDLY_TOKEN_FIRST"},
        {"id": second, "authTokenSetting": "CREDLY_TOKEN_SECOND"},
    ]
    env = {k: v for k, v in stack.env.items() if not k.startswith("CREDLY_ORGANIZATION_ID")}
    env.pop("CREDLY_AUTH_TOKEN")
    env |= {
        "CREDLY_ORGANIZATIONS": json.dumps(orgs),
        "CREDLY_TOKEN_FIRST": stack.world.credly.orgs[first].tokens[0].token,
        "CREDLY_TOKEN_SECOND": "revoked-or-mistyped-token-value",
    }

    report = stack.health(env)

    assert _check(report, f"credly organisation {first}").ok
    second_check = _check(report, f"credly organisation {second}")
    assert not second_check.ok
    assert "check CREDLY_TOKEN_SECOND" in second_check.fix
    assert {f"crawls {first}", f"crawls {second}"} <= set(_failed(report))


def test_health_route_answers_checks_even_with_invalid_settings(
    setup_stack: Callable[..., SetupStack],
    indexed_functions: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = setup_stack()
    handler = indexed_functions["ops_health"].get_user_function()
    url = "https://connector.example/api/ops/health"
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CREDLY_ORGANIZATION_ID", "not-a-guid")
    monkeypatch.setattr(function_app, "_context", None)

    response = handler(func.HttpRequest("GET", url, body=b""))

    assert response.status_code == 503
    body = json.loads(response.get_body())
    assert body["ok"] is False
    names = [c["name"] for c in body["checks"] if not c["ok"]]
    assert names == ["setting CREDLY_ORGANIZATION_ID"]
    assert set(body["checks"][0]) == {"name", "ok", "status", "detail", "cause", "fix"}

    monkeypatch.setenv("CREDLY_ORGANIZATION_ID", stack.organization_id)
    assert stack.setup().ok
    stack.crawl_full()
    healthy = handler(func.HttpRequest("GET", url, body=b""))
    assert healthy.status_code == 200
    assert json.loads(healthy.get_body())["ok"] is True


def test_health_command_exits_by_result(
    setup_stack: Callable[..., SetupStack],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = setup_stack()
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)

    assert main(["health"]) == 1
    printed = capsys.readouterr().out
    assert "FAIL  graph connection: missing" in printed
    assert "fix: run setup" in printed

    assert stack.setup().ok
    stack.crawl_full()
    assert main(["health", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_a_typo_in_a_setting_name_warns_naming_the_closest_setting(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    assert stack.setup().ok
    stack.crawl_full()
    env = {**stack.env, "INCLUDE_EXPIRD": "true"}

    report = stack.health(env)

    check = _check(report, "setting INCLUDE_EXPIRD")
    assert check.status == "warn"
    assert "did you mean INCLUDE_EXPIRED?" in check.cause
    assert "rename INCLUDE_EXPIRD to INCLUDE_EXPIRED" in check.fix
    # A warning only: everything else is healthy, so the route still answers 200.
    assert report.ok
    assert report.answer().status == 200
    assert "WARN  setting INCLUDE_EXPIRD: unknown setting" in report.render()


def test_a_misspelt_required_setting_fails_and_the_typo_names_the_fix(
    setup_stack: Callable[..., SetupStack],
) -> None:
    stack = setup_stack()
    env = {k: v for k, v in stack.env.items() if k != "CREDLY_AUTH_TOKEN"}
    env["CREDLY_AUTH_TOKN"] = "t0ken-value"

    report = stack.health(env)

    assert not _check(report, "setting CREDLY_AUTH_TOKEN").ok
    typo = _check(report, "setting CREDLY_AUTH_TOKN")
    assert typo.status == "warn"
    assert "did you mean CREDLY_AUTH_TOKEN?" in typo.cause
    assert "t0ken-value" not in setup_json(report)
