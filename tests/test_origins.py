"""The same-origin rule: scheme, host and port, with default ports; unreadable ports match none."""

from __future__ import annotations

import pytest

from credly_connector.origins import origin, same_origin

API = "https://api.credly.com/v1"


def test_default_ports_are_made_explicit_and_case_is_ignored() -> None:
    assert origin("HTTPS://API.Credly.com/v1") == ("https", "api.credly.com", 443)
    assert origin("http://127.0.0.1/x") == ("http", "127.0.0.1", 80)
    assert origin("http://127.0.0.1:8080/x") == ("http", "127.0.0.1", 8080)
    assert same_origin("https://api.credly.com:443/v1/x?page=2", API)


@pytest.mark.parametrize(
    "other",
    [
        "http://api.credly.com/v1",
        "https://api.credly.com:8443/v1",
        "https://evil.example/v1",
        "javascript:alert(1)",
    ],
)
def test_another_scheme_host_or_port_is_another_origin(other: str) -> None:
    assert not same_origin(other, API)
    assert not same_origin(API, other)


@pytest.mark.parametrize("port", ["99999", "443x", "-1"])
def test_an_unreadable_port_has_no_origin_and_matches_nothing(port: str) -> None:
    url = f"https://api.credly.com:{port}/v1"

    assert origin(url) is None
    assert not same_origin(url, API)
    assert not same_origin(API, url)
    assert not same_origin(url, url)  # not even itself: it names no server we can vouch for
