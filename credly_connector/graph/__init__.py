"""Microsoft Graph for the connector: credential, SDK client, item writes, users/delta."""

from credly_connector.graph.auth import FixedTokenCredential, graph_credential
from credly_connector.graph.client import GraphClient, open_graph_client
from credly_connector.graph.delta import DeltaPage
from credly_connector.graph.errors import DeltaExpiredError
from credly_connector.graph.pacing import WritePacer
from credly_connector.graph.sdk import (
    DEFAULT_GRAPH_API_URL,
    GRAPH_SCOPE,
    build_service_client,
    create_http_client,
)
from credly_connector.graph.transport import RequestHook, RetryHook

__all__ = [
    "DEFAULT_GRAPH_API_URL",
    "GRAPH_SCOPE",
    "DeltaExpiredError",
    "DeltaPage",
    "FixedTokenCredential",
    "GraphClient",
    "RequestHook",
    "RetryHook",
    "WritePacer",
    "build_service_client",
    "create_http_client",
    "graph_credential",
    "open_graph_client",
]
