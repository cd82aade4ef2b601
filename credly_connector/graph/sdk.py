"""Building msgraph-sdk's `GraphServiceClient` for a base URL, a credential and an httpx client."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx
from azure.core.credentials import TokenCredential
from kiota_abstractions.request_option import RequestOption
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import RedirectHandlerOption, RetryHandlerOption
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_request_adapter import options as sdk_middleware_options
from msgraph.graph_service_client import GraphServiceClient

# msgraph-core ships no py.typed marker, so mypy cannot see its (untyped) factory.
from msgraph_core import GraphClientFactory  # type: ignore[import-untyped]

DEFAULT_GRAPH_API_URL = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEFAULT_TIMEOUT_S = 60.0

Verify = bool | str | ssl.SSLContext
"""TLS verification: on/off, a CA bundle file, or a ready SSL context."""
_THREAD_CONTEXTS = threading.local()


def graph_host(base_url: str) -> str:
    """The host name of a Graph base URL (what kiota must allow to send a token to)."""
    host = urlsplit(base_url).hostname
    if not host:
        raise ValueError(f"not an absolute URL: {base_url!r}")
    return host


def ssl_verify(verify: Verify) -> bool | ssl.SSLContext:
    """The `verify` httpx takes for a setting value: a context, built once per thread.

    Building a context loads a CA bundle (about 85 ms of CPU with the default one), and each
    profile batch opens a client of its own (one per event loop), so this thread's context for
    the same value is reused: `True` is httpx's default context (honouring `SSL_CERT_FILE` and
    `SSL_CERT_DIR`), a CA file a context trusting it. Per thread, because httpcore sets ALPN on
    the context at each connection, and an event loop's connections are all made on its thread.
    """
    if verify is False or isinstance(verify, ssl.SSLContext):
        return verify
    contexts: dict[bool | str, ssl.SSLContext] = _THREAD_CONTEXTS.__dict__.setdefault("by", {})
    context = contexts.get(verify)
    if context is None:
        if isinstance(verify, str):
            context = ssl.create_default_context(cafile=verify)
        else:
            context = httpx.create_ssl_context(verify=True)
        contexts[verify] = context
    return context


def create_http_client(
    base_url: str,
    *,
    verify: Verify = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The production httpx client for Graph (HTTP/2 when the server offers it).

    Args:
        base_url: The Graph root, e.g. `https://graph.microsoft.com/v1.0`.
        verify: TLS verification (a CA file for the loopback TLS stand-in).
        timeout_s: Connect, read, write and pool timeout.
        transport: Send through this transport instead of the network's.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        verify=ssl_verify(verify),
        timeout=httpx.Timeout(timeout_s),
        http2=True,
        transport=transport,
    )


def build_service_client(
    credential: TokenCredential,
    http_client: httpx.AsyncClient,
    *,
    base_url: str = DEFAULT_GRAPH_API_URL,
    scopes: Sequence[str] = (GRAPH_SCOPE,),
) -> GraphServiceClient:
    """A `GraphServiceClient` sending through `http_client`, its middleware loaded in place.

    The pipeline is the SDK's default one with kiota's retry and redirect handlers switched
    off: the connector retries with its own `RetryPolicy`, so waits are visible and write
    pacing can react to 429s, and follows no redirect. `allowed_hosts` names the base URL's
    host (without it kiota silently sends no token) and the scope is Graph's (else kiota
    derives one from the host).

    Args:
        credential: Supplies tokens; owned (and closed) by the caller.
        http_client: The httpx client; its transport is wrapped by the SDK middleware.
        base_url: The Graph root requests are built under.
        scopes: The token scopes to ask for.
    """
    options: dict[str, RequestOption] = dict(sdk_middleware_options)
    options[RetryHandlerOption.get_key()] = RetryHandlerOption(should_retry=False)
    # No redirects: a 3xx to another host would carry the item body (or the token) there.
    # A redirect is then an error answer naming its status.
    options[RedirectHandlerOption.get_key()] = RedirectHandlerOption(should_redirect=False)
    GraphClientFactory.create_with_default_middleware(client=http_client, options=options)
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=list(scopes), allowed_hosts=[graph_host(base_url)]
    )
    adapter = GraphRequestAdapter(auth, client=http_client)
    # Set explicitly so an injected client without a base URL works and paths get no "//".
    adapter.base_url = base_url.rstrip("/")
    return GraphServiceClient(request_adapter=adapter)
