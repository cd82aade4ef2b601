"""The connector's Microsoft Graph client: item writes, users/delta pages, connection reads.

Requests are built and authenticated by msgraph-sdk (its request builders, kiota's token
provider and middleware) and sent through the SDK's request adapter; answers come back as the
raw httpx response, so the client sees the real status, `Retry-After` and body, reports every
attempt to `on_request`, and translates failures in `graph.errors`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self, cast

import httpx
from azure.core.credentials import TokenCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.native_response_handler import NativeResponseHandler
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import ResponseHandlerOption
from msgraph.generated.external.connections.item.external_connection_item_request_builder import (
    ExternalConnectionItemRequestBuilder,
)
from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.graph_service_client import GraphServiceClient

from credly_connector.errors import (
    ConfigurationError,
    NotFoundError,
    RequestError,
    RetryableError,
)
from credly_connector.graph.delta import (
    DEFAULT_DELTA_PAGE_SIZE,
    USER_SELECT,
    DeltaPage,
    delta_page,
)
from credly_connector.graph.errors import error_from_response, translate_exception
from credly_connector.graph.pacing import WritePacer
from credly_connector.graph.sdk import (
    DEFAULT_GRAPH_API_URL,
    DEFAULT_TIMEOUT_S,
    GRAPH_SCOPE,
    Verify,
    build_service_client,
    create_http_client,
)
from credly_connector.graph.tenant import TENANT_FIX, resolve_tenant
from credly_connector.origins import same_origin
from credly_connector.retry import RetryPolicy

logger = logging.getLogger(__name__)

DeltaQuery = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters
RequestHook = Callable[[str, str, int | None], None]
"""Called after every attempt with (method, kind such as `items.put`, status or None)."""
RetryHook = Callable[[str, RetryableError, float], None]
"""Called before every retry wait with (kind, the error, seconds to wait)."""
BuildRequest = Callable[[], RequestInformation]
"""Builds one attempt's request (a fresh `RequestInformation` per attempt)."""


class GraphClient:
    """Async Graph client for the connector. Create and close it inside one event loop.

    Args:
        service: The SDK client (see `graph.sdk.build_service_client`).
        http_client: The httpx client behind `service`, closed by `aclose` (None: not ours).
        retry: When to try again; its `clock` bounds the budget, waits use `sleep`.
        pacer: Paces item writes (PUT and DELETE); None sends them unpaced.
        on_request: Told about every attempt (the benchmark counts writes, reads and 429s).
        on_retry: Told before every retry wait.
        sleep: Awaitable sleep for retry waits.
        credential: The credential behind `service`, for the tenant its tokens name.
    """

    def __init__(
        self,
        service: GraphServiceClient,
        *,
        http_client: httpx.AsyncClient | None = None,
        credential: TokenCredential | None = None,
        retry: RetryPolicy | None = None,
        pacer: WritePacer | None = None,
        on_request: RequestHook | None = None,
        on_retry: RetryHook | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.service = service
        self._http = http_client
        self._credential = credential
        self._retry = retry or RetryPolicy()
        self._pacer = pacer
        self._on_request = on_request
        self._on_retry = on_retry
        self._sleep = sleep

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the httpx client this client owns (the credential stays with its owner)."""
        if self._http is not None:
            await self._http.aclose()

    # -- external items --------------------------------------------------------------------

    async def put_item(self, connection_id: str, item: Mapping[str, Any]) -> None:
        """Create or replace an external item, sending `item` as the body exactly as given.

        Args:
            connection_id: The external connection.
            item: `{"id", "acl", "properties"}`; `id` also names the item in the URL.

        Raises:
            ConnectorError: The translated failure once retries are spent (see `graph.errors`).
        """
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise ValueError("the item needs a non-empty string 'id'")
        body = json.dumps(item, separators=(",", ":")).encode()

        def request() -> RequestInformation:
            builder = self._connection(connection_id).items.by_external_item_id(item_id)
            # Built by hand rather than from an SDK model, so the body is exactly `item`.
            info = RequestInformation(Method.PUT, builder.url_template, builder.path_parameters)
            info.headers.try_add("Accept", "application/json")
            info.set_stream_content(body, "application/json")
            return info

        await self._call("PUT", "items.put", request, write=True)

    async def delete_item(self, connection_id: str, item_id: str) -> bool:
        """Delete an external item; False when it was already gone (404)."""

        def request() -> RequestInformation:
            builder = self._connection(connection_id).items.by_external_item_id(item_id)
            return builder.to_delete_request_information()

        try:
            await self._call("DELETE", "items.delete", request, write=True)
        except NotFoundError:
            return False
        return True

    def tenant_id(self, configured: str | None = None) -> str:
        """The tenant id the items' `everyone` ACL names (see `graph.tenant.resolve_tenant`).

        Args:
            configured: AZURE_TENANT_ID, which wins when set.

        Raises:
            ConfigurationError: Neither the setting nor the token names the tenant.
        """
        if configured:
            return configured
        if self._credential is None:
            raise ConfigurationError("this Graph client has no credential", fix=TENANT_FIX)
        # The credential is synchronous (see graph.auth): this blocks only while a token is
        # fetched, which its cache makes rare.
        return resolve_tenant(None, self._credential, GRAPH_SCOPE)

    # -- connections -----------------------------------------------------------------------

    async def get_connection(self, connection_id: str) -> dict[str, Any] | None:
        """The connection as Graph describes it (`state`, `contentCategory`...), None if absent."""

        def request() -> RequestInformation:
            return self._connection(connection_id).to_get_request_information()

        try:
            payload = await self._call("GET", "connections.get", request, decode=True)
        except NotFoundError:
            return None
        return {k: v for k, v in payload.items() if not k.startswith("@odata.")}

    # -- users/delta -----------------------------------------------------------------------

    async def users_delta(
        self, delta_link: str | None = None, *, page_size: int = DEFAULT_DELTA_PAGE_SIZE
    ) -> AsyncIterator[DeltaPage]:
        """Pages of one users/delta round, following next links until the delta link.

        Without `delta_link` the round is a full read of the directory; with a stored one it
        holds the changes since. Store the last page's `delta_link` for the next round.

        Raises:
            DeltaExpiredError: The sync state is gone; start again without a delta link.
            RequestError: Graph sent a next link it had sent already, or a link (stored or
                sent) names another scheme, host or port than the configured Graph URL.
        """
        if delta_link is not None and not self._same_origin(delta_link):
            # A stored link naming another host would take the token there: never sent.
            raise RequestError("users/delta: the stored delta link names another host")
        link = delta_link
        seen: set[str] = set()
        while True:
            payload = await self._call(
                "GET", "users.delta", self._delta_request(link, page_size), decode=True
            )
            page = delta_page(payload)
            yield page
            if page.delta_link is not None or page.next_link is None:
                return
            if page.next_link in seen:
                raise RequestError(f"users/delta repeated a next link: {page.next_link}")
            if not self._same_origin(page.next_link):
                raise RequestError("users/delta sent a next link to another host; not followed")
            seen.add(page.next_link)
            link = page.next_link

    def _same_origin(self, link: str) -> bool:
        """Whether `link` has the configured Graph URL's scheme, host and port."""
        return same_origin(link, self.service.request_adapter.base_url)

    def _delta_request(self, link: str | None, page_size: int) -> Callable[[], RequestInformation]:
        def request() -> RequestInformation:
            delta = self.service.users.delta
            if link is None:
                config = RequestConfiguration[DeltaQuery](
                    query_parameters=DeltaQuery(select=list(USER_SELECT))
                )
            else:
                # Next and delta links carry the query on; they are absolute URLs.
                delta = delta.with_url(link)
                config = RequestConfiguration[DeltaQuery]()
            config.headers.add("Prefer", f"odata.maxpagesize={page_size}")
            return delta.to_get_request_information(config)

        return request

    # -- requests built elsewhere (graph.provisioning) --------------------------------------

    async def send(
        self, method: str, kind: str, request: BuildRequest, *, retry: RetryPolicy | None = None
    ) -> httpx.Response:
        """Send a request `request` builds (once per attempt); the successful httpx response.

        Same retries, reporting and error translation as the client's own calls; `retry`
        replaces the client's policy (e.g. `NO_RETRY` for a write that is not idempotent).
        """
        response: httpx.Response = await self._call(method, kind, request, policy=retry)
        return response

    async def send_json(self, method: str, kind: str, request: BuildRequest) -> dict[str, Any]:
        """Like `send`, returning the answer's JSON object (unreadable JSON is retried)."""
        payload: dict[str, Any] = await self._call(method, kind, request, decode=True)
        return payload

    # -- sending ---------------------------------------------------------------------------

    def _connection(self, connection_id: str) -> ExternalConnectionItemRequestBuilder:
        return self.service.external.connections.by_external_connection_id(connection_id)

    async def _call(
        self,
        method: str,
        kind: str,
        request: Callable[[], RequestInformation],
        *,
        write: bool = False,
        decode: bool = False,
        policy: RetryPolicy | None = None,
    ) -> Any:
        """Send with retries; the decoded JSON body when `decode`, else the httpx response."""
        policy = policy or self._retry
        started = policy.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(method, kind, request(), write=write, decode=decode)
            except RetryableError as error:
                wait = policy.delay(attempt, error)
                if wait is None or policy.clock() - started + wait > policy.budget_s:
                    raise
                logger.info("Graph %s: %s; retrying in %.1f s", kind, error, wait)
                if self._on_retry is not None:
                    self._on_retry(kind, error, wait)
                await self._sleep(wait)

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
        send = cast(
            Callable[..., Awaitable[object]], self.service.request_adapter.send_primitive_async
        )
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


@asynccontextmanager
async def open_graph_client(
    credential: TokenCredential,
    *,
    base_url: str = DEFAULT_GRAPH_API_URL,
    verify: Verify = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    pacer: WritePacer | None = None,
    on_request: RequestHook | None = None,
    on_retry: RetryHook | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[GraphClient]:
    """A `GraphClient` on a new httpx client, closed on exit.

    Lifetimes: the credential (see `graph.auth.graph_credential`) and the pacer live as long
    as the process and may be shared by successive event loops; the httpx client and the
    `GraphClient` belong to one event loop, so open one per `asyncio.run`.

    Args:
        credential: Supplies Graph tokens; stays open (its owner closes it).
        base_url: `GRAPH_API_URL`, the Graph root.
        verify: TLS verification; a CA bundle file for the loopback TLS stand-in.
        timeout_s: httpx timeout.
        transport: Send through this httpx transport instead of the network's.
        retry: When to try again (default `RetryPolicy()`).
        pacer: Paces item writes.
        on_request: Told about every attempt.
        on_retry: Told before every retry wait.
        sleep: Awaitable sleep for retry waits.
    """
    http = create_http_client(base_url, verify=verify, timeout_s=timeout_s, transport=transport)
    try:
        service = build_service_client(credential, http, base_url=base_url)
    except BaseException:
        await http.aclose()
        raise
    client = GraphClient(
        service,
        http_client=http,
        credential=credential,
        retry=retry,
        pacer=pacer,
        on_request=on_request,
        on_retry=on_retry,
        sleep=sleep,
    )
    async with client:
        yield client
