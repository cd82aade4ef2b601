"""Graph failures to connector errors, with plain values: the OData envelope and status families."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

from credly_connector.errors import (
    AuthenticationError,
    ConflictError,
    ConnectorError,
    NotFoundError,
    RequestError,
    RetryableError,
    ThrottledError,
)
from credly_connector.graph.errors import (
    NOT_READY_RETRY_S,
    DeltaExpiredError,
    GraphFailure,
    error_for,
    parse_failure,
    translate_exception,
)
from credly_connector.retry import parse_retry_after


def envelope(code: str, message: str) -> bytes:
    inner = {"date": "2026-01-01T00:00:00", "request-id": "r", "client-request-id": "c"}
    return json.dumps({"error": {"code": code, "message": message, "innerError": inner}}).encode()


def test_odata_envelope_code_message_and_retry_after_are_read() -> None:
    failure = parse_failure(
        429, {"retry-after": "7"}, envelope("TooManyRequests", "Too many requests, retry later")
    )
    assert failure == GraphFailure(429, "TooManyRequests", "Too many requests, retry later", 7.0)


def test_a_body_that_is_not_the_envelope_keeps_its_start_as_message() -> None:
    failure = parse_failure(502, {}, b"<html>" + b"x" * 500)
    assert failure.code == ""
    assert failure.message.startswith("<html>")
    assert len(failure.message) == 200
    assert failure.retry_after is None
    assert parse_failure(500, {}, b"").message == ""
    assert parse_failure(500, {}, b'{"error": "flat"}').message == '{"error": "flat"}'


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:30 GMT", lambda: now) == 30.0
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", lambda: now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "code", "family"),
    [
        (400, "InvalidRequest", RequestError),
        (401, "InvalidAuthenticationToken", AuthenticationError),
        (403, "Authorization_RequestDenied", AuthenticationError),
        (404, "NotFound", NotFoundError),
        (409, "Conflict", ConflictError),
        (412, "PreconditionFailed", ConflictError),
        (413, "RequestEntityTooLarge", RequestError),
        (429, "TooManyRequests", ThrottledError),
        (500, "InternalServerError", RetryableError),
        (503, "ServiceUnavailable", RetryableError),
        (504, "GatewayTimeout", RetryableError),
        (410, "SyncStateNotFound", DeltaExpiredError),
        (400, "resyncRequired", DeltaExpiredError),
    ],
)
def test_status_families(status: int, code: str, family: type[ConnectorError]) -> None:
    error = error_for(GraphFailure(status, code, "what Graph said"), "items.put")
    assert type(error) is family
    assert f"{status} {code}: what Graph said" in str(error)


def test_request_errors_keep_status_and_code() -> None:
    error = error_for(GraphFailure(400, "InvalidRequest", "bad id"), "items.put")
    assert isinstance(error, RequestError)
    assert (error.status, error.code) == (400, "InvalidRequest")


def test_retryable_errors_carry_retry_after_and_status() -> None:
    throttled = error_for(GraphFailure(429, "TooManyRequests", "slow down", 2.0), "items.put")
    assert isinstance(throttled, ThrottledError)
    assert (throttled.retry_after, throttled.status) == (2.0, 429)
    unavailable = error_for(GraphFailure(503, "ServiceUnavailable", "busy", 5.0), "users.delta")
    assert isinstance(unavailable, RetryableError)
    assert (unavailable.retry_after, unavailable.status) == (5.0, 503)


@pytest.mark.parametrize(
    ("kind", "permission"),
    [
        ("items.put", "ExternalItem.ReadWrite.OwnedBy"),
        ("connections.get", "ExternalConnection.ReadWrite.OwnedBy"),
        ("users.delta", "User.Read.All"),
    ],
)
def test_forbidden_names_the_permission_likely_missing(kind: str, permission: str) -> None:
    error = error_for(GraphFailure(403, "Authorization_RequestDenied", "no"), kind)
    assert isinstance(error, AuthenticationError)
    assert permission in error.fix
    assert permission in str(error)


def test_delta_expired_keeps_the_code() -> None:
    error = error_for(GraphFailure(410, "", "gone"), "users.delta")
    assert isinstance(error, DeltaExpiredError)
    assert isinstance(error, NotFoundError)
    assert error.code == "SyncStateNotFound"


def test_transport_and_credential_exceptions_are_translated() -> None:
    request = httpx.Request("GET", "https://graph.example/v1.0/users")
    assert type(translate_exception(httpx.ReadTimeout("t", request=request), "k")) is (
        RetryableError
    )
    assert type(translate_exception(httpx.ConnectError("c", request=request), "k")) is (
        RetryableError
    )
    assert type(translate_exception(httpx.RemoteProtocolError("r"), "k")) is RetryableError
    refused = translate_exception(ClientAuthenticationError("AADSTS7000215: bad secret"), "k")
    assert isinstance(refused, AuthenticationError)
    assert "AADSTS7000215" in str(refused)
    assert type(translate_exception(ServiceRequestError("no route"), "k")) is RetryableError
    assert translate_exception(KeyError("mine"), "k") is None


def test_a_profile_source_not_ready_yet_is_retryable_whatever_its_status() -> None:
    named = error_for(GraphFailure(409, "ProfileSourceNotReady", "soon", 40.0), "items.put")
    unnamed = error_for(GraphFailure(400, "ProfileSourceNotReady", "soon"), "items.put")

    assert isinstance(named, RetryableError)
    assert named.retry_after == 40.0
    assert isinstance(unnamed, RetryableError)
    assert unnamed.retry_after == NOT_READY_RETRY_S
    # Any other 409 stays a conflict for the domain to handle.
    assert not isinstance(
        error_for(GraphFailure(409, "Conflict", "x"), "items.put"), RetryableError
    )


def test_a_forbidden_item_write_explains_a_workstation_setup_and_the_fix() -> None:
    error = error_for(GraphFailure(403, "Forbidden", "no"), "items.put")

    assert isinstance(error, AuthenticationError)
    assert "only the identity that created the connection" in error.fix
    assert "POST /api/ops/setup" in error.fix
    assert "teardown" in error.fix
