"""The connector's Microsoft Graph client: item writes, users/delta pages, connection reads.

Requests are built by msgraph-sdk's request builders (what to ask for) and sent by
`graph.transport` (how: the SDK's adapter, retries, write pacing, reports, error translation).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import httpx
from azure.core.credentials import TokenCredential
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.external.connections.item.external_connection_item_request_builder import (
    ExternalConnectionItemRequestBuilder,
)
from msgraph.graph_service_client import GraphServiceClient

from credly_connector.errors import ConfigurationError, NotFoundError
from credly_connector.graph.delta import DEFAULT_DELTA_PAGE_SIZE, DeltaPage, delta_round
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
from credly_connector.graph.transport import BuildRequest, GraphTransport, RequestHook, RetryHook
from credly_connector.retry import RetryPolicy


class GraphClient:
    """Async Graph client for the connector. Create and close it inside one event loop."""

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
        """Wrap an SDK client; every request goes through one `GraphTransport`.

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
        self.service = service
        self._http = http_client
        self._credential = credential
        self._transport = GraphTransport(
            service.request_adapter,
            retry=retry,
            pacer=pacer,
            on_request=on_request,
            on_retry=on_retry,
            sleep=sleep,
        )

    async def __aenter__(self) -> Self:
        """The client itself, closed when the block ends."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the client (see `aclose`)."""
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

        await self._transport.call("PUT", "items.put", request, write=True)

    async def delete_item(self, connection_id: str, item_id: str) -> bool:
        """Delete an external item; False when it was already gone (404)."""

        def request() -> RequestInformation:
            builder = self._connection(connection_id).items.by_external_item_id(item_id)
            return builder.to_delete_request_information()

        try:
            await self._transport.call("DELETE", "items.delete", request, write=True)
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
            payload = await self._transport.call("GET", "connections.get", request, decode=True)
        except NotFoundError:
            return None
        return {k: v for k, v in payload.items() if not k.startswith("@odata.")}

    # -- users/delta -----------------------------------------------------------------------

    def users_delta(
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
        return delta_round(self.service, self._transport, delta_link, page_size)

    # -- requests built elsewhere (graph.provisioning) --------------------------------------

    async def send(
        self, method: str, kind: str, request: BuildRequest, *, retry: RetryPolicy | None = None
    ) -> httpx.Response:
        """Send a request `request` builds (once per attempt); the successful httpx response.

        Same retries, reporting and error translation as the client's own calls; `retry`
        replaces the client's policy (e.g. `NO_RETRY` for a write that is not idempotent).
        """
        response: httpx.Response = await self._transport.call(method, kind, request, retry=retry)
        return response

    async def send_json(self, method: str, kind: str, request: BuildRequest) -> dict[str, Any]:
        """Like `send`, returning the answer's JSON object (unreadable JSON is retried)."""
        payload: dict[str, Any] = await self._transport.call(method, kind, request, decode=True)
        return payload

    # -- sending ---------------------------------------------------------------------------

    def _connection(self, connection_id: str) -> ExternalConnectionItemRequestBuilder:
        return self.service.external.connections.by_external_connection_id(connection_id)


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
