"""Microsoft Graph failures translated into the connector's error families, at one boundary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
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
from credly_connector.retry import parse_retry_after

SYNC_STATE_NOT_FOUND = "SyncStateNotFound"
"""The OData code Graph answers when a delta or skip token can no longer be used."""

PROFILE_SOURCE_NOT_READY = "ProfileSourceNotReady"
"""The code of Graph's refusal of item writes just after the profile source was registered."""
NOT_READY_RETRY_S = 15.0
"""How long to wait before writing again after that refusal, when Graph names no time."""

_RESYNC_CODES = frozenset({SYNC_STATE_NOT_FOUND, "resyncRequired", "SyncStateInvalid"})

PERMISSIONS = {
    "items": "ExternalItem.ReadWrite.OwnedBy",
    "connections": "ExternalConnection.ReadWrite.OwnedBy",
    "users": "User.Read.All",
    "people": "PeopleSettings.ReadWrite.All",
}
"""The least application permission each request family needs, by the kind's first part."""

_SNIPPET = 200


class DeltaExpiredError(NotFoundError):
    """The users/delta sync state is gone (410 or a resync code): start a full read again.

    Attributes:
        code: The OData error code Graph sent.
    """

    def __init__(self, message: str, *, code: str = SYNC_STATE_NOT_FOUND) -> None:
        """Keep Graph's message and its error code."""
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class GraphFailure:
    """A Graph error answer, parsed: status, OData `error.code`/`error.message`, Retry-After."""

    status: int
    code: str
    message: str
    retry_after: float | None = None


def parse_failure(status: int, headers: Mapping[str, str], body: bytes) -> GraphFailure:
    """Read Graph's OData error envelope `{"error": {"code", "message"}}` from an answer.

    A body that is not the envelope (a gateway's HTML page, say) keeps its start as the message.
    """
    code, message = "", ""
    try:
        envelope = json.loads(body) if body else None
    except ValueError:
        envelope = None
    error = envelope.get("error") if isinstance(envelope, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or "")
        message = str(error.get("message") or "")
    elif body:
        message = body[:_SNIPPET].decode("utf-8", "replace")
    retry_after = parse_retry_after(headers.get("retry-after") or headers.get("Retry-After"))
    return GraphFailure(status, code, message, retry_after)


def _permission_for(kind: str) -> str:
    return PERMISSIONS.get(kind.split(".", 1)[0], "the permission this call needs")


WORKSTATION_SETUP_FIX = (
    "with ExternalItem.ReadWrite.OwnedBy only the identity that created the connection may "
    "write its items: if setup ran from a workstation under another identity, delete the "
    "connection (python -m credly_connector teardown) and run setup as the app itself "
    "(POST /api/ops/setup); otherwise grant the app ExternalItem.ReadWrite.OwnedBy and give "
    "admin consent."
)


def _auth_fix(status: int, kind: str) -> str:
    if status == 403 and kind.startswith("items."):
        return WORKSTATION_SETUP_FIX
    if status == 403:
        return (
            f"grant the app the application permission {_permission_for(kind)} "
            "and give admin consent."
        )
    return (
        "check the app's tenant id, client id and secret (or the managed identity) "
        "and that the token is for Microsoft Graph."
    )


_DOMAIN_ERRORS: dict[int, type[NotFoundError | ConflictError]] = {
    404: NotFoundError,
    409: ConflictError,
    412: ConflictError,
}


def error_for(failure: GraphFailure, kind: str) -> ConnectorError:
    """The connector error for a Graph failure of a request of `kind` (e.g. `items.put`)."""
    status, code = failure.status, failure.code
    text = f"Graph {kind} answered {status} {code or '(no code)'}: {failure.message}".rstrip(": ")
    if status == 410 or code in _RESYNC_CODES:
        return DeltaExpiredError(text, code=code or SYNC_STATE_NOT_FOUND)
    if code == PROFILE_SOURCE_NOT_READY:
        # A passing state, not a conflict: the source accepts items within about a minute.
        retry_after = failure.retry_after or NOT_READY_RETRY_S
        return RetryableError(text, retry_after=retry_after, status=status)
    if status in (401, 403):
        return AuthenticationError(text, fix=_auth_fix(status, kind))
    if status in {408, 429} or status >= 500:
        retryable = ThrottledError if status == 429 else RetryableError
        return retryable(text, retry_after=failure.retry_after, status=status)
    if status in _DOMAIN_ERRORS:
        return _DOMAIN_ERRORS[status](text)
    return RequestError(text, status=status, code=code)


def error_from_response(response: httpx.Response, kind: str) -> ConnectorError:
    """The connector error for a non-success httpx response to a request of `kind`."""
    return error_for(parse_failure(response.status_code, response.headers, response.content), kind)


def translate_exception(exc: Exception, kind: str) -> ConnectorError | None:
    """The connector error for a transport or credential exception, None for anything else.

    Timeouts and dropped connections are retryable; a refused or unavailable credential is an
    authentication problem.
    """
    if isinstance(exc, httpx.TimeoutException | httpx.TransportError):
        return RetryableError(f"Graph {kind} failed: {type(exc).__name__}: {exc}")
    if isinstance(exc, ClientAuthenticationError):
        return AuthenticationError(
            f"No Graph token for {kind}: {exc.message}",
            fix="check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET "
            "(or the managed identity assigned to the app).",
        )
    if isinstance(exc, ServiceRequestError):
        return RetryableError(f"The token endpoint could not be reached for {kind}: {exc}")
    return None
