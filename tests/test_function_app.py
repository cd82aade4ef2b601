"""The Functions app indexes, binds only under ops/, and its routes call the core."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest

import function_app
from credly_connector import __version__


@pytest.fixture(scope="module")
def functions() -> dict[str, Any]:
    # FunctionApp.get_functions() may be called only once per app instance.
    return {str(f.get_function_name()): f for f in function_app.app.get_functions()}


def _bindings(function: Any) -> list[dict[str, Any]]:
    return list(json.loads(function.get_function_json())["bindings"])


def test_no_function_or_route_uses_the_reserved_admin_prefix(functions: dict[str, Any]) -> None:
    assert functions
    for name, function in functions.items():
        assert not name.lower().startswith("admin")
        for binding in _bindings(function):
            assert not str(binding.get("route", "")).lower().startswith("admin")


def test_http_routes_are_never_anonymous(functions: dict[str, Any]) -> None:
    for function in functions.values():
        for binding in _bindings(function):
            if binding["type"] == "httpTrigger":
                assert binding["authLevel"] in {"FUNCTION", "ADMIN"}


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
