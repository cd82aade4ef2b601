"""The Credly API client: one organisation's badges, pages and tokens over an injected session."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import requests

from credly_connector import PRODUCT_NAME, __version__
from credly_connector.credly.auth import CredlyAuth
from credly_connector.credly.errors import error_for_exception, read_envelope
from credly_connector.credly.queries import (
    BadgeQuery,
    badge_path,
    badges_path,
    event_path,
    organization_path,
    resolve,
    tokens_path,
)
from credly_connector.errors import ConfigurationError, RequestError, RetryableError
from credly_connector.retry import RetryPolicy, parse_retry_after

T = TypeVar("T")
OnRequest = Callable[[str, int | None], None]
"""Told of every HTTP attempt: `"GET /v1/organizations/.../badges"` and the status (None when
no answer came back: timeout, reset)."""


class AnsweredRequest(Protocol):
    """One request's hold on a budget, told how Credly answered."""

    def answered(self, status: int | None, retry_after: float | None) -> None:
        """Credly's status (None: no answer came back) and its `Retry-After` in seconds."""


class RequestBudget(Protocol):
    """What every request to Credly must hold while in flight (a shared budget)."""

    def request(self) -> AbstractContextManager[AnsweredRequest]:
        """Wait for the budget, hold it for one request; raises a retryable error if it can't."""


@dataclass(frozen=True)
class BadgePage:
    """One page of an organisation's issued badges, as Credly answered it.

    Attributes:
        number: The page we asked for.
        badges: The raw badge objects (unknown fields kept; parsing is someone else's job).
        total_pages: Pages the list has in all, by the server's count at answer time.
        total_count: Badges the list has in all.
        current_page: The page the server says it answered.
        next_page_url: The server's link to the next page; kept as data, never requested.
        dropped: Items of `data` that were not JSON objects and were left out of `badges`.
    """

    number: int
    badges: list[dict[str, Any]]
    total_pages: int
    total_count: int
    current_page: int
    next_page_url: str | None
    dropped: int = 0


class CredlyClient:
    """Reads one Credly organisation through the Web Service API v1.

    Every request goes to the API's own scheme, host and port, never follows redirects or
    `next_page_url`, runs through the retry policy, and has its failures translated by
    `credly_connector.credly.errors`.
    """

    def __init__(
        self,
        api_url: str,
        organization_id: str,
        auth: CredlyAuth,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_pages: int = 100_000,
        on_request: OnRequest | None = None,
        budget: RequestBudget | None = None,
    ) -> None:
        """Read `organization_id` through the API at `api_url`.

        Args:
            api_url: The API base URL, e.g. `https://api.credly.com/v1`.
            organization_id: The organisation to read.
            auth: `TokenAuth` or `OAuthAuth`.
            session: The HTTP session (a new one when None).
            retry: When and how long to retry retryable failures.
            timeout: (connect, read) seconds per request.
            max_pages: The highest page number the client will ask for (a loop guard).
            on_request: Told of every HTTP attempt, e.g. to count requests and 429s.
            budget: Held by every HTTP attempt while in flight, and told of 429s (no limit when
                None). Waiting for it counts in the retry policy's time budget.
        """
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"the Credly API URL {api_url!r} is not an http(s) URL",
                fix="set CREDLY_API_URL to https://api.credly.com/v1 (or the sandbox's).",
            )
        self.api_url = api_url.rstrip("/")
        self.organization_id = organization_id
        self.auth = auth
        self.session = session or requests.Session()
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.max_pages = max_pages
        self.on_request = on_request
        self.budget = budget

    def organization(self) -> dict[str, Any]:
        """The organisation's record (`GET /organizations/{id}`)."""
        return self._get(organization_path(self.organization_id), None, _data_object)

    def badge(self, badge_id: str) -> dict[str, Any]:
        """One issued badge of the organisation, raw.

        Raises:
            CredlyNotFoundError: No such badge in this organisation.
        """
        return self._get(badge_path(self.organization_id, badge_id), None, _data_object)

    def event(self, event_id: str) -> dict[str, Any]:
        """One event of the organisation, raw (`GET /organizations/{id}/events/{event_id}`).

        This is how a webhook notification is confirmed: the event, its type and the badge it
        concerns come from Credly, read with our own credentials (needs the `events` scope).

        Raises:
            CredlyNotFoundError: No such event in this organisation.
        """
        return self._get(event_path(self.organization_id, event_id), None, _data_object)

    def badge_page(self, page: int, query: BadgeQuery | None = None) -> BadgePage:
        """One page of the organisation's issued badges, with the query's filter and sort.

        Args:
            page: The 1-based page number (at most `max_pages`).
            query: Filter and sort; every badge sorted by `created_at` when None.

        Raises:
            RequestError: For a page number outside 1..max_pages, or a refused query.
        """
        if not 1 <= page <= self.max_pages:
            raise RequestError(f"page {page} is outside 1..{self.max_pages} (loop guard)")
        params = (query or BadgeQuery()).params(page)

        def parse(body: dict[str, Any]) -> BadgePage:
            return _badge_page(page, body)

        return self._get(badges_path(self.organization_id), params, parse)

    def authorization_tokens(self) -> list[dict[str, Any]]:
        """The organisation's authorization tokens visible to us (first page), for expiry checks.

        With OAuth this needs the `authorization_tokens` scope.
        """
        return self._get(tokens_path(self.organization_id), None, _data_objects)

    # -- transport -------------------------------------------------------------------------

    def _get(
        self, path: str, params: dict[str, str] | None, parse: Callable[[dict[str, Any]], T]
    ) -> T:
        url = resolve(self.api_url, path)

        def attempt() -> T:
            # Parsing runs inside the attempt so a malformed answer is retried like a 5xx.
            return parse(self._send("GET", url, params))

        return self.retry.call(attempt)

    def _send(self, method: str, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        credential = self.auth.authorization()
        response = self._exchange(method, url, params, credential)
        # A 401 can mean our OAuth token was revoked or expired early: renew once, try once.
        if response.status_code == 401 and self.auth.refresh(credential):
            response = self._exchange(method, url, params, self.auth.authorization())
        return read_envelope(response, settings=self.auth.settings, api_url=self.api_url)

    def _exchange(
        self, method: str, url: str, params: dict[str, str] | None, credential: str
    ) -> requests.Response:
        label = f"{method} {urlsplit(url).path}"
        headers = {
            "Authorization": credential,
            "Accept": "application/json",
            "User-Agent": f"{PRODUCT_NAME}/{__version__}",
        }
        with self._budget() as ticket:
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                if ticket is not None:
                    ticket.answered(None, None)
                self._report(label, None)
                raise error_for_exception(error) from error
            if ticket is not None:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                ticket.answered(response.status_code, retry_after)
        self._report(label, response.status_code)
        return response

    def _budget(self) -> AbstractContextManager[AnsweredRequest | None]:
        if self.budget is None:
            return contextlib.nullcontext()
        return self.budget.request()

    def _report(self, label: str, status: int | None) -> None:
        if self.on_request is not None:
            self.on_request(label, status)


def _malformed(what: str) -> RetryableError:
    return RetryableError(f"malformed response from Credly: {what}", status=200)


def _data_object(body: dict[str, Any]) -> dict[str, Any]:
    data = body["data"]
    if not isinstance(data, dict):
        raise _malformed("data is not an object")
    return data


def _data_objects(body: dict[str, Any]) -> list[dict[str, Any]]:
    data = body["data"]
    if not isinstance(data, list):
        raise _malformed("data is not a list")
    return [item for item in data if isinstance(item, dict)]


def _badge_page(number: int, body: dict[str, Any]) -> BadgePage:
    data = body["data"]
    metadata = body.get("metadata")
    if not isinstance(data, list) or not isinstance(metadata, dict):
        raise _malformed(f"page {number} lacks a data list or metadata")
    badges = [item for item in data if isinstance(item, dict)]
    next_url = metadata.get("next_page_url")
    return BadgePage(
        number=number,
        badges=badges,
        total_pages=_count(metadata, "total_pages"),
        total_count=_count(metadata, "total_count"),
        current_page=_count(metadata, "current_page"),
        next_page_url=next_url if isinstance(next_url, str) else None,
        dropped=len(data) - len(badges),
    )


def _count(metadata: dict[str, Any], key: str) -> int:
    value = metadata.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _malformed(f"metadata.{key} is {value!r}, not a count")
    return value
