"""The one place where Credly answers and `requests` failures become connector errors."""

from __future__ import annotations

from typing import Any

import requests

from credly_connector.errors import (
    AuthenticationError,
    ConnectorError,
    NotFoundError,
    RequestError,
    RetryableError,
    ThrottledError,
)
from credly_connector.retry import parse_retry_after

PRODUCTION_API_URL = "https://api.credly.com/v1"
SANDBOX_API_URL = "https://sandbox-api.credly.com/v1"
TOKEN_SETTING = "CREDLY_AUTH_TOKEN"  # noqa: S105 - a setting's name, not a secret
OAUTH_SETTINGS = "CREDLY_CLIENT_ID / CREDLY_CLIENT_SECRET"


class CredlyNotFoundError(NotFoundError):
    """Credly answered 404: the organisation or badge addressed does not exist."""


def credentials_fix(settings: str, api_url: str) -> str:
    """The fix an admin reads when Credly refuses our credentials.

    Args:
        settings: The settings holding the credentials, e.g. `CREDLY_AUTH_TOKEN`.
        api_url: The API base URL in use.
    """
    return (
        f"check {settings} (a valid, read-enabled credential of this organisation, not "
        f"expired) and CREDLY_API_URL: credentials of the production API ({PRODUCTION_API_URL}) "
        f"do not work on the sandbox ({SANDBOX_API_URL}) and the other way round; "
        f"in use: {api_url}."
    )


def read_envelope(response: requests.Response, *, settings: str, api_url: str) -> dict[str, Any]:
    """The JSON body of a successful answer, or the error the answer means.

    Args:
        response: Credly's answer.
        settings: The credential settings in use, named in authentication fixes.
        api_url: The API base URL in use, named in authentication fixes.

    Returns:
        The body, a JSON object holding `data`.

    Raises:
        ConnectorError: The family the status means; a 200 that is not a JSON object with
            `data` is a `RetryableError` (a truncated answer may well succeed next time).
    """
    status = response.status_code
    if status == 200:
        body = _json_or_none(response)
        if not isinstance(body, dict) or "data" not in body:
            raise RetryableError(
                f"malformed response from Credly ({_where(response)}): not a JSON object with data",
                status=status,
            )
        return body
    raise error_for_status(response, settings=settings, api_url=api_url)


def error_for_status(response: requests.Response, *, settings: str, api_url: str) -> ConnectorError:
    """The error a non-200 Credly API answer means (see `read_envelope`)."""
    status = response.status_code
    message = f"Credly answered {status} to {_where(response)}: {_message(response)}"
    if status in (401, 403):
        return AuthenticationError(message, fix=credentials_fix(settings, api_url))
    if status in (404, 410):
        return CredlyNotFoundError(message)
    if status == 429 or status >= 500:
        error_type = ThrottledError if status == 429 else RetryableError
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return error_type(message, retry_after=retry_after, status=status)
    # 3xx included: we never follow redirects, as they could lead to another host.
    return RequestError(message, status=status)


def error_for_exception(error: requests.RequestException) -> ConnectorError:
    """The error a `requests` failure means: network trouble is retryable, the rest is ours."""
    transient = (
        requests.Timeout,
        requests.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    )
    if isinstance(error, transient):
        return RetryableError(f"Credly unreachable: {type(error).__name__}: {error}")
    return RequestError(f"request to Credly could not be sent: {type(error).__name__}: {error}")


def error_for_token_response(
    response: requests.Response, *, token_url: str, scope: str
) -> ConnectorError:
    """The error a failed OAuth token request means.

    Refused clients and scopes are configuration errors naming the settings to fix; throttling
    and 5xx are retryable, as on the API.
    """
    status = response.status_code
    body = _json_or_none(response)
    code = description = ""
    if isinstance(body, dict):
        code = str(body.get("error") or "")
        description = str(body.get("error_description") or "")
    message = f"Credly's token endpoint {token_url} answered {status} {code}: {description}"
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        error_type = ThrottledError if status == 429 else RetryableError
        return error_type(message, retry_after=retry_after, status=status)
    if code == "invalid_scope":
        fix = (
            f"grant the OAuth application of {OAUTH_SETTINGS} the scopes the connector asks "
            f"for ({scope})."
        )
    else:
        fix = (
            f"check {OAUTH_SETTINGS} (an OAuth application of the organisation) and "
            f"CREDLY_WEB_URL, whose /oauth/token must be on the same environment (production "
            f"or sandbox) as the credentials."
        )
    return AuthenticationError(message, fix=fix)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # requests' JSONDecodeError is a ValueError
        return None


def _message(response: requests.Response) -> str:
    """Credly's `data.message`, or the start of the body when there is none."""
    body = _json_or_none(response)
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return str(data["message"])
    return response.reason or response.text[:200] or "no message"


def _where(response: requests.Response) -> str:
    request = response.request
    method = request.method if request is not None else "GET"
    path = (request.path_url if request is not None else "").partition("?")[0]
    return f"{method} {path}"
