"""The local functions host's pure parts: route templates, keys, reading the app's bindings."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.host.http import http_functions, key_accepted, route_pattern


def test_a_route_template_matches_one_segment_per_parameter_below_the_prefix() -> None:
    pattern = route_pattern("ops/crawls/{crawl_id}/retry")

    found = pattern.match("/api/ops/crawls/123abc/retry")

    assert found is not None
    assert found.groupdict() == {"crawl_id": "123abc"}
    assert pattern.match("/api/ops/crawls/a/b/retry") is None
    assert pattern.match("/ops/crawls/1/retry") is None


def test_literal_dots_and_constraints_are_honoured() -> None:
    assert route_pattern("ops/reports/badges.csv").match("/api/ops/reports/badgesXcsv") is None
    assert route_pattern("items/{id:int}").match("/api/items/7") is not None


@pytest.mark.parametrize("route", ["items/{id?}", "files/{*path}"])
def test_optional_and_catch_all_parameters_are_refused(route: str) -> None:
    with pytest.raises(ValueError, match="not supported"):
        route_pattern(route)


def test_keys_compare_exactly() -> None:
    assert key_accepted("k1", ["k0", "k1"])
    assert not key_accepted("k1 ", ["k1"])
    assert not key_accepted(None, ["k1"])
    assert not key_accepted("", [""])


def test_the_apps_http_functions_are_read_from_their_bindings(
    indexed_functions: dict[str, Any],
) -> None:
    functions = {f.name: f for f in http_functions(indexed_functions.values())}

    webhook = functions["credly_events"]
    assert (webhook.route, webhook.methods, webhook.auth_level, webhook.argument) == (
        "credly/events",
        ("POST",),
        "FUNCTION",
        "req",
    )
    assert "credly_event" not in functions  # a queue trigger
