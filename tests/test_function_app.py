"""The Functions app indexes, binds only under ops/, and its routes call the core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

import function_app
from credly_connector import __version__


@pytest.fixture
def functions(indexed_functions: dict[str, Any]) -> dict[str, Any]:
    return indexed_functions


def _bindings(function: Any) -> list[dict[str, Any]]:
    return list(json.loads(function.get_function_json())["bindings"])


def test_no_function_or_route_uses_the_reserved_admin_prefix(functions: dict[str, Any]) -> None:
    assert functions
    for name, function in functions.items():
        assert not name.lower().startswith("admin")
        for binding in _bindings(function):
            assert not str(binding.get("route", "")).lower().startswith("admin")


def test_http_routes_are_never_anonymous(functions: dict[str, Any]) -> None:
    # No route is deliberately public: even Credly's webhook carries its function key (`?code=`
    # in the subscribed URL), and a route added without an auth level gets the app's default.
    assert function_app.app.auth_level == func.AuthLevel.FUNCTION
    levels = {
        name: binding["authLevel"]
        for name, function in functions.items()
        for binding in _bindings(function)
        if binding["type"] == "httpTrigger"
    }
    assert set(levels) == {n for n, (kind, _) in EXPECTED_BINDINGS.items() if kind == "httpTrigger"}
    assert set(levels.values()) == {"FUNCTION"}


def test_version_route_reports_the_core_version(functions: dict[str, Any]) -> None:
    handler = functions["ops_version"].get_user_function()
    response = handler(func.HttpRequest("GET", "/api/ops/version", body=b""))
    assert response.status_code == 200
    assert json.loads(response.get_body())["version"] == __version__


def test_core_package_never_imports_azure_functions() -> None:
    from pathlib import Path

    core = Path(function_app.__file__).parent / "credly_connector"
    offenders = [
        str(path.relative_to(core.parent))
        for path in core.rglob("*.py")
        if "azure.functions" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


EXPECTED_BINDINGS = {
    "incremental_crawl": ("timerTrigger", "%INCREMENTAL_CRAWL_SCHEDULE%"),
    "full_crawl": ("timerTrigger", "%FULL_CRAWL_SCHEDULE%"),
    "crawl_start": ("queueTrigger", "crawl-start"),
    "crawl_pages": ("queueTrigger", "crawl-pages"),
    "crawl_plan": ("queueTrigger", "crawl-plan"),
    "crawl_profiles": ("queueTrigger", "crawl-profiles"),
    "crawl_finish": ("queueTrigger", "crawl-finish"),
    "crawl_pages_poison": ("queueTrigger", "crawl-pages-poison"),
    "crawl_profiles_poison": ("queueTrigger", "crawl-profiles-poison"),
    "ops_version": ("httpTrigger", "GET ops/version"),
    "ops_crawls_start": ("httpTrigger", "POST ops/crawls"),
    "ops_crawls_list": ("httpTrigger", "GET ops/crawls"),
    "ops_crawls_status": ("httpTrigger", "GET ops/crawls/{crawl_id}"),
    "ops_setup": ("httpTrigger", "POST ops/setup"),
    "ops_teardown": ("httpTrigger", "POST ops/teardown"),
    "ops_rebuild": ("httpTrigger", "POST ops/rebuild"),
    "ops_health": ("httpTrigger", "GET ops/health"),
    "ops_crawls_retry": ("httpTrigger", "POST ops/crawls/{crawl_id}/retry"),
    "ops_crawls_cancel": ("httpTrigger", "POST ops/crawls/{crawl_id}/cancel"),
    "ops_crawls_preview": ("httpTrigger", "GET ops/crawls/{crawl_id}/preview"),
    "ops_people_diagnose": ("httpTrigger", "GET ops/people/{email}"),
    "ops_identity_overrides_put": ("httpTrigger", "PUT ops/identity-overrides/{email}"),
    "ops_identity_overrides_delete": ("httpTrigger", "DELETE ops/identity-overrides/{email}"),
    "ops_identity_overrides_list": ("httpTrigger", "GET ops/identity-overrides"),
    "ops_reports_badges": ("httpTrigger", "GET ops/reports/badges.csv"),
    "credly_events": ("httpTrigger", "POST credly/events"),
    "credly_event": ("queueTrigger", "credly-events"),
    "credly_event_poison": ("queueTrigger", "credly-events-poison"),
}


def _pin(binding: dict[str, Any]) -> tuple[str, str]:
    kind = str(binding["type"])
    if kind == "timerTrigger":
        return kind, str(binding["schedule"])
    if kind == "queueTrigger":
        assert binding["connection"] == "AzureWebJobsStorage"
        return kind, str(binding["queueName"])
    assert binding["authLevel"] == "FUNCTION"
    return kind, f"{' '.join(binding['methods'])} {binding['route']}"


def test_bindings_are_pinned(functions: dict[str, Any]) -> None:
    pinned = {name: _pin(_bindings(f)[0]) for name, f in functions.items()}
    assert pinned == EXPECTED_BINDINGS


def test_default_schedules_are_daily_and_weekly() -> None:
    from credly_connector.settings import load_settings

    sample = json.loads(
        (Path(function_app.__file__).parent / "local.settings.sample.json").read_text()
    )["Values"]
    assert sample["INCREMENTAL_CRAWL_SCHEDULE"] == "0 0 2 * * *"
    assert sample["FULL_CRAWL_SCHEDULE"] == "0 0 3 * * 0"
    settings = load_settings(
        {
            "CREDLY_ORGANIZATION_ID": "2f1d7a4e-8c1b-4c39-9f2e-5b9a7e6d4c21",
            "CREDLY_AUTH_TOKEN": "t",
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        }
    )
    assert settings.crawl.incremental_schedule == "0 0 2 * * *"
    assert settings.crawl.full_schedule == "0 0 3 * * 0"
