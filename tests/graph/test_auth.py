"""Credential choice, and the real azure-identity credential against the TLS Graph stand-in."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import pytest
from azure.identity import ClientSecretCredential, ManagedIdentityCredential

from credly_connector.errors import AuthenticationError, ConfigurationError
from credly_connector.graph import (
    GRAPH_SCOPE,
    FixedTokenCredential,
    graph_credential,
    open_graph_client,
)
from devstack.graph.directory import Directory
from devstack.graph.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from devstack.graph.server import GraphStandIn
from devstack.standin import TlsIdentity
from tests.graph.conftest import create_people_connection, run


def test_a_fixed_token_wins_and_claims_a_far_expiry() -> None:
    credential = graph_credential(
        access_token="abc.def.ghi", tenant_id="t", client_id="c", client_secret="s"
    )
    assert isinstance(credential, FixedTokenCredential)
    token = credential.get_token(GRAPH_SCOPE, claims="x", enable_cae=True)
    assert token.token == "abc.def.ghi"
    assert token.expires_on > time.time() + 365 * 24 * 3600
    assert "abc" not in repr(credential)


def test_an_app_secret_gives_a_client_secret_credential() -> None:
    credential = graph_credential(
        access_token=None, tenant_id="tenant", client_id="client", client_secret="secret"
    )
    assert isinstance(credential, ClientSecretCredential)


def test_without_a_secret_the_managed_identity_is_used() -> None:
    assert isinstance(
        graph_credential(access_token="", tenant_id=None, client_id=None, client_secret=None),
        ManagedIdentityCredential,
    )
    assert isinstance(
        graph_credential(access_token=None, tenant_id="t", client_id="c", client_secret=None),
        ManagedIdentityCredential,
    )


def test_a_secret_without_tenant_or_client_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="AZURE_TENANT_ID") as raised:
        graph_credential(access_token=None, tenant_id="", client_id="c", client_secret="s")
    assert "AZURE_CLIENT_ID" not in str(raised.value).split("Fix:")[0]
    with pytest.raises(ConfigurationError, match="AZURE_TENANT_ID and AZURE_CLIENT_ID"):
        graph_credential(access_token=None, tenant_id=None, client_id=None, client_secret="s")


def test_an_empty_fixed_token_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        FixedTokenCredential("")


# -- over TLS with azure-identity -----------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsIdentity:
    return TlsIdentity.self_signed(tmp_path_factory.mktemp("graph-tls"))


@pytest.fixture
def tls_graph(directory: Directory, tls: TlsIdentity) -> Iterator[GraphStandIn]:
    with GraphStandIn(directory, tls=tls, schema_delay_s=0) as standin:
        yield standin
        assert standin.server.internal_errors == []


def secret_credential(
    graph: GraphStandIn, tls: TlsIdentity, secret: str = DEFAULT_CLIENT_SECRET
) -> ClientSecretCredential:
    credential = graph_credential(
        access_token=None,
        tenant_id=graph.tenant_id,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=secret,
        authority=graph.authority,
        verify=str(tls.ca_file),
    )
    assert isinstance(credential, ClientSecretCredential)
    return credential


def test_one_credential_serves_clients_in_successive_event_loops(
    tls_graph: GraphStandIn, tls: TlsIdentity
) -> None:
    connection = create_people_connection(
        tls_graph, verify=ssl.create_default_context(cafile=str(tls.ca_file))
    )
    credential = secret_credential(tls_graph, tls)

    async def batch() -> dict[str, object] | None:
        async with open_graph_client(
            credential, base_url=tls_graph.graph_url, verify=str(tls.ca_file)
        ) as client:
            return await client.get_connection(connection)

    # when: two batches each open and close their own client, as the queue handlers do
    with credential:
        first, second = run(batch()), run(batch())

    # then: both read the connection over TLS, and the token was fetched once
    assert first is not None
    assert second == first
    assert first["state"] == "ready"
    assert tls_graph.server.requests.count("connections", "GET", 200) == 2
    assert tls_graph.server.requests.count("identity", "POST", 200) == 1


def test_a_refused_secret_raises_authentication_error(
    tls_graph: GraphStandIn, tls: TlsIdentity
) -> None:
    credential = secret_credential(tls_graph, tls, secret="not-the-secret")
    events: list[tuple[str, str, int | None]] = []

    async def scenario() -> None:
        async with open_graph_client(
            credential,
            base_url=tls_graph.graph_url,
            verify=str(tls.ca_file),
            on_request=lambda *event: events.append(event),
        ) as client:
            await client.delete_item("credlybadges", "u1")

    with credential, pytest.raises(AuthenticationError, match="AADSTS7000215"):
        run(scenario())
    assert events == [("DELETE", "items.delete", None)]
    assert tls_graph.server.requests.count("items") == 0


def test_a_client_cannot_be_used_after_its_context_closed(
    tls_graph: GraphStandIn, tls: TlsIdentity
) -> None:
    async def scenario() -> None:
        async with open_graph_client(
            FixedTokenCredential(tls_graph.token()),
            base_url=tls_graph.graph_url,
            verify=str(tls.ca_file),
        ) as client:
            assert await client.get_connection("missing") is None
        await client.get_connection("missing")

    with pytest.raises(RuntimeError, match="closed"):
        run(scenario())
