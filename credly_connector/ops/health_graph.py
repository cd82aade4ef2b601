"""Graph health checks: a token, the connection ready, its schema, the profile source first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential

from credly_connector.errors import ConnectorError
from credly_connector.graph.auth import graph_credential
from credly_connector.graph.client import open_graph_client
from credly_connector.graph.errors import translate_exception
from credly_connector.graph.profile_source import org_wide_setting, precedence, source_url
from credly_connector.graph.provisioning import PEOPLE, ProvisioningClient
from credly_connector.graph.schema import schema_differences
from credly_connector.graph.sdk import GRAPH_SCOPE
from credly_connector.ops.checks import Check, describe_error, failed, passed
from credly_connector.retry import RetryPolicy
from credly_connector.rules.items import PEOPLE_SCHEMA
from credly_connector.settings import LOOPBACK_HOSTS, GraphSettings

HEALTH_RETRY = RetryPolicy(attempts=2, budget_s=10.0, backoff_s=0.5)
TIMEOUT_S = 15.0
RUN_SETUP = "run setup (python -m credly_connector setup, or POST /api/ops/setup)"


def credential_for(graph: GraphSettings) -> TokenCredential:
    """The Graph credential the connector would use (the stand-in is its own authority)."""
    parts = urlsplit(graph.api_url)
    return graph_credential(
        access_token=graph.access_token,
        tenant_id=graph.tenant_id,
        client_id=graph.client_id,
        client_secret=graph.client_secret,
        authority=parts.netloc if parts.hostname in LOOPBACK_HOSTS else None,
        verify=str(graph.ca_file) if graph.ca_file else None,
    )


def token_check(graph: GraphSettings) -> tuple[Check, TokenCredential | None]:
    """Whether a Graph token can be obtained, and the credential when it can."""
    name = "graph token"
    fix = "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or the managed identity)"
    try:
        credential = credential_for(graph)
        credential.get_token(GRAPH_SCOPE)
    except ConnectorError as error:
        cause, fix = describe_error(error, fix)
        return failed(name, "no credential", cause, fix), None
    except Exception as exc:  # any credential failure is this check's finding
        translated = translate_exception(exc, "token")
        if translated is None:
            return failed(name, "no token", f"{type(exc).__name__}: {exc}", fix), None
        cause, fix = describe_error(translated, fix)
        return failed(name, "no token", cause, fix), None
    return passed(name, f"token obtained ({graph.auth_mode.replace('_', ' ')})"), credential


class GraphHealth:
    """Checks the connection, its schema and the profile source with one Graph client.

    Args:
        graph: The Graph settings.
        retry: Retries of each read (short: health answers quickly).
    """

    def __init__(self, graph: GraphSettings, *, retry: RetryPolicy = HEALTH_RETRY) -> None:
        """Checks of the Graph settings given."""
        self.settings = graph
        self.connection_id = graph.connection_id
        self.retry = retry

    async def checks(self, credential: TokenCredential) -> list[Check]:
        """Connection exists and is ready, schema registered, profile source first."""
        verify: str | bool = str(self.settings.ca_file) if self.settings.ca_file else True
        async with open_graph_client(
            credential,
            base_url=self.settings.api_url,
            verify=verify,
            timeout_s=TIMEOUT_S,
            retry=self.retry,
        ) as client:
            graph = ProvisioningClient(client)
            connection = await _guard("graph connection", lambda: self._connection(graph))
            results = [connection]
            if connection.detail != "missing":
                results.append(await _guard("graph schema", lambda: self._schema(graph)))
            results.append(await _guard("graph profile source", lambda: self._source(graph)))
            results.append(await _guard("graph precedence", lambda: self._precedence(graph)))
            return results

    async def _connection(self, graph: ProvisioningClient) -> Check:
        name = "graph connection"
        found = await graph.get_connection(self.connection_id)
        if found is None:
            cause = f"connection {self.connection_id} does not exist (GRAPH_CONNECTION_ID)"
            return failed(name, "missing", cause, RUN_SETUP)
        category, state = found.get("contentCategory"), found.get("state")
        if category != PEOPLE:
            return failed(
                name,
                f"connection {self.connection_id} has contentCategory {category!r}",
                "only a people connection feeds profiles",
                f"set GRAPH_CONNECTION_ID to an unused id, then {RUN_SETUP}",
            )
        if state != "ready":
            return failed(
                name,
                f"connection {self.connection_id} is {state}",
                "its schema is not registered yet, or its registration is still running",
                f"{RUN_SETUP} and let the schema operation complete",
            )
        return passed(name, f"connection {self.connection_id} is ready (people)")

    async def _schema(self, graph: ProvisioningClient) -> Check:
        name = "graph schema"
        registered = await graph.get_schema(self.connection_id)
        if registered is None:
            return failed(name, "none registered", "setup has not registered it", RUN_SETUP)
        differences = schema_differences(PEOPLE_SCHEMA, registered.get("properties") or [])
        if differences:
            return failed(
                name,
                "registered, but not the connector's",
                "; ".join(differences),
                "a people schema cannot change: delete the connection (or use a new "
                f"GRAPH_CONNECTION_ID), then {RUN_SETUP}",
            )
        return passed(name, f"registered ({len(PEOPLE_SCHEMA)} labelled properties)")

    async def _source(self, graph: ProvisioningClient) -> Check:
        name = "graph profile source"
        found = await graph.get_profile_source(self.connection_id)
        if found is None:
            cause = f"no profile source with sourceId {self.connection_id} is registered"
            return failed(name, "missing", cause, RUN_SETUP)
        return passed(name, f"registered as {found.get('displayName')!r} ({found.get('webUrl')})")

    async def _precedence(self, graph: ProvisioningClient) -> Check:
        name = "graph precedence"
        url = source_url(self.connection_id)
        setting = org_wide_setting(await graph.property_settings())
        if setting is None:
            cause = "there is no organisation-wide profile property setting"
            return failed(name, "missing", cause, RUN_SETUP)
        urls = precedence(setting)
        position = next((i for i, u in enumerate(urls) if u.casefold() == url.casefold()), None)
        if position is None:
            cause = "the Credly profile source is not in prioritizedSourceUrls"
            return failed(name, "not listed", cause, RUN_SETUP)
        if position > 0:
            return failed(
                name,
                f"Credly is number {position + 1} of {len(urls)}",
                f"{urls[0]} comes first, so its values win where both fill the same field",
                f"{RUN_SETUP}: it puts Credly first and keeps the other sources in order",
            )
        return passed(name, f"Credly first of {len(urls)} source(s)")


async def _guard(name: str, check: Callable[[], Awaitable[Check]]) -> Check:
    try:
        return await check()
    except ConnectorError as error:
        cause, fix = describe_error(error, "check the Graph settings and permissions")
        return failed(name, "Graph refused or failed the request", cause, fix)
