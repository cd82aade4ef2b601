"""Translation of Credly answers and `requests` failures into the connector's error families."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from credly_connector.credly.errors import (
    CredlyNotFoundError,
    error_for_exception,
)
from credly_connector.errors import NotFoundError, RequestError, RetryableError
from credly_connector.retry import parse_retry_after

NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def fixed_now() -> datetime:
    return NOW


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Sun, 01 Nov 2026 12:00:30 GMT", 30.0),
        ("Sun, 01 Nov 2026 11:59:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(
    header: str | None, expected: float | None
) -> None:
    assert parse_retry_after(header, fixed_now) == expected


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectTimeout("connect"),
        requests.ReadTimeout("read"),
        requests.ConnectionError("reset by peer"),
        requests.exceptions.ChunkedEncodingError("short read"),
    ],
)
def test_network_failures_are_retryable(error: requests.RequestException) -> None:
    translated = error_for_exception(error)

    assert type(translated) is RetryableError
    assert type(error).__name__ in str(translated)


def test_a_url_requests_cannot_send_is_a_request_error() -> None:
    assert isinstance(error_for_exception(requests.exceptions.InvalidURL("bad")), RequestError)


def test_not_found_is_the_connector_s_not_found_family() -> None:
    assert issubclass(CredlyNotFoundError, NotFoundError)
