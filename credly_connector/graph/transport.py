"""Sending one Graph request: retries, write pacing, a report per attempt, error translation.

Requests go out through msgraph-sdk's request adapter (its authentication and middleware) with
kiota's native response handler, so the raw httpx response comes back: the real status,
`Retry-After` and body. Failures are translated in `graph.errors`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httpx
from kiota_abstractions.native_response_handler import NativeResponseHandler
from kiota_abstractions.request_adapter import RequestAdapter
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import ResponseHandlerOption

from credly_connector.errors import RetryableError
from credly_connector.graph.errors import error_from_response, translate_exception
from credly_connector.graph.pacing import WritePacer
from credly_connector.retry import RetryPolicy

logger = logging.getLogger(__name__)

RequestHook = Callable[[str, str, int | None], None]
"""Called after every attempt with (method, kind such as `items.put`, status or None)."""
RetryHook = Callable[[str, RetryableError, float], None]
"""Called before every retry wait with (kind, the error, seconds to wait)."""
BuildRequest = Callable[[], RequestInformation]
"""Builds one attempt's request (a fresh `RequestInformation` per attempt)."""


class GraphTransport:
    """Sends requests through the SDK's adapter as one retry policy and one pacer allow."""

    def __init__(
        self,
        adapter: RequestAdapter,
        *,
        retry: RetryPolicy | None = None,
        pacer: WritePacer | None = None,
        on_request: RequestHook | None = None,
        on_retry: RetryHook | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Keep what every request shares.

        Args:
            adapter: The SDK client's request adapter (authentication, middleware).
            retry: When to try again (default `RetryPolicy()`); its `clock` bounds the budget.
            pacer: Paces writes (PUT and DELETE of items); None sends them unpaced.
            on_request: Told about every attempt (the benchmark counts writes, reads and 429s).
            on_retry: Told before every retry wait.
            sleep: Awaitable sleep for retry waits.
        """
        self.adapter = adapter
        self.retry = retry or RetryPolicy()
        self._pacer = pacer
        self._on_request = on_request
        self._on_retry = on_retry
        self._sleep = sleep

    async def call(
        self,
        method: str,
        kind: str,
        request: BuildRequest,
        *,
        write: bool = False,
        decode: bool = False,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """Send with retries; the decoded JSON object when `decode`, else the httpx response.

        Args:
            method: The HTTP method, for reports.
            kind: What the request is (`items.put`, `users.delta`...), for reports and fixes.
            request: Builds each attempt's request.
            write: An item write, paced by the pacer.
            decode: Return the answer's JSON object (an unreadable one is retried).
            retry: Replaces the transport's policy (e.g. `NO_RETRY` for a non-idempotent write).

        Raises:
            ConnectorError: The translated failure once retries are spent (see `graph.errors`).
        """

        def retrying(error: RetryableError, wait: float) -> None:
            logger.info("Graph %s: %s; retrying in %.1f s", kind, error, wait)
            if self._on_retry is not None:
                self._on_retry(kind, error, wait)

        async def attempt() -> Any:
            return await self._attempt(method, kind, request(), write=write, decode=decode)

        policy = retry or self.retry
        return await policy.call_async(attempt, sleep=self._sleep, on_retry=retrying)

    async def _attempt(
        self, method: str, kind: str, info: RequestInformation, *, write: bool, decode: bool
    ) -> Any:
        if write and self._pacer is not None:
            async with self._pacer.slot():
                response = await self._exchange(method, kind, info)
            if response.status_code == 429:
                failure = error_from_response(response, kind)
                retry_after = failure.retry_after if isinstance(failure, RetryableError) else None
                self._pacer.throttled(retry_after)
                raise failure
            if response.is_success:
                self._pacer.succeeded()
        else:
            response = await self._exchange(method, kind, info)
        if not response.is_success:
            raise error_from_response(response, kind)
        if not decode:
            return response
        try:
            payload = response.json()
        except ValueError as exc:
            # A cut or garbled 200 is a transport glitch: reading again is safe.
            raise RetryableError(f"Graph {kind} answered unreadable JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise RetryableError(f"Graph {kind} answered JSON that is not an object")
        return payload

    async def _exchange(self, method: str, kind: str, info: RequestInformation) -> httpx.Response:
        info.add_request_options([ResponseHandlerOption(NativeResponseHandler())])
        # With the native response handler the adapter hands back the httpx response itself.
        send = cast(Callable[..., Awaitable[object]], self.adapter.send_primitive_async)
        try:
            response = await send(info, "bytes", None)
        except Exception as exc:
            translated = translate_exception(exc, kind)
            if translated is None:
                raise
            self._notify(method, kind, None)
            raise translated from exc
        if not isinstance(response, httpx.Response):
            raise TypeError(f"expected the native httpx response, got {type(response)!r}")
        self._notify(method, kind, response.status_code)
        return response

    def _notify(self, method: str, kind: str, status: int | None) -> None:
        if self._on_request is not None:
            self._on_request(method, kind, status)
