"""The tenant id of the items' `everyone` ACL: from AZURE_TENANT_ID or the Graph token's tid."""

from __future__ import annotations

import pytest

from credly_connector.errors import ConfigurationError
from credly_connector.graph.auth import FixedTokenCredential
from credly_connector.graph.client import open_graph_client
from credly_connector.graph.sdk import GRAPH_SCOPE
from credly_connector.graph.tenant import resolve_tenant, tenant_of_token
from devstack.graph.server import GraphStandIn
from tests.graph.conftest import run

OTHER_TENANT = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"


def test_the_tid_claim_of_a_graph_token_names_the_tenant(graph: GraphStandIn) -> None:
    assert tenant_of_token(graph.token()) == graph.tenant_id


@pytest.mark.parametrize(
    "token",
    ["opaque-token", "a.b.c", "a.e30.c", "a.eyJ0aWQiOiJub3QtYS1ndWlkIn0.c", ""],
    ids=["opaque", "not-base64-json", "no-tid", "tid-not-a-guid", "empty"],
)
def test_a_token_without_a_usable_tid_names_none(token: str) -> None:
    assert tenant_of_token(token) is None


def test_the_setting_wins_over_the_token(graph: GraphStandIn) -> None:
    credential = FixedTokenCredential(graph.token())

    assert resolve_tenant(OTHER_TENANT, credential, GRAPH_SCOPE) == OTHER_TENANT
    assert resolve_tenant(None, credential, GRAPH_SCOPE) == graph.tenant_id


def test_neither_setting_nor_tid_is_a_configuration_error_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError) as raised:
        resolve_tenant(None, FixedTokenCredential("opaque-token"), GRAPH_SCOPE)

    assert "AZURE_TENANT_ID" in raised.value.fix


def test_the_graph_client_reads_the_tenant_of_its_own_token(graph: GraphStandIn) -> None:
    async def scenario() -> tuple[str, str]:
        credential = FixedTokenCredential(graph.token())
        async with open_graph_client(credential, base_url=graph.graph_url) as client:
            return client.tenant_id(), client.tenant_id(OTHER_TENANT)

    assert run(scenario()) == (graph.tenant_id, OTHER_TENANT)
