"""The real msgraph-sdk and azure-identity against the Graph stand-in, over HTTPS on 127.0.0.1.

The connector talks to Graph through `GraphServiceClient` (kiota, httpx) authenticated by a
`ClientSecretCredential`. These tests drive exactly that stack against the stand-in, so an SDK
bump or a stand-in change that breaks what one sends and the other accepts fails here.
`graph_service_client` is the construction the connector's Graph client copies.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx
import pytest
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.default_query_parameters import QueryParameters
from kiota_abstractions.request_option import RequestOption
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import HeadersInspectionHandlerOption, RetryHandlerOption
from msgraph.generated.external.connections.item.external_connection_item_request_builder import (
    ExternalConnectionItemRequestBuilder,
)
from msgraph.generated.models.external_connectors.access_type import AccessType
from msgraph.generated.models.external_connectors.acl import Acl
from msgraph.generated.models.external_connectors.acl_type import AclType
from msgraph.generated.models.external_connectors.connection_operation_status import (
    ConnectionOperationStatus,
)
from msgraph.generated.models.external_connectors.connection_state import ConnectionState
from msgraph.generated.models.external_connectors.content_category import ContentCategory
from msgraph.generated.models.external_connectors.external_connection import ExternalConnection
from msgraph.generated.models.external_connectors.external_item import ExternalItem
from msgraph.generated.models.external_connectors.label import Label
from msgraph.generated.models.external_connectors.properties import Properties
from msgraph.generated.models.external_connectors.property_ import Property_
from msgraph.generated.models.external_connectors.property_type import PropertyType
from msgraph.generated.models.external_connectors.schema import Schema
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.profile_property_setting import ProfilePropertySetting
from msgraph.generated.models.profile_source import ProfileSource
from msgraph.generated.models.user import User
from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_request_adapter import options as sdk_middleware_options
from msgraph.graph_service_client import GraphServiceClient

# msgraph-core ships no py.typed marker, so mypy cannot see its (untyped) factory.
from msgraph_core import GraphClientFactory  # type: ignore[import-untyped]

from devstack.graph.directory import Directory, DirectoryUser
from devstack.graph.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID
from devstack.graph.people_settings import ENTRA_SOURCE_URL
from devstack.graph.rules.problems import INVALID_REQUEST
from devstack.graph.server import GraphStandIn
from devstack.standin import RateLimit, TlsIdentity

T = TypeVar("T")
DeltaQuery = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_HOST = "graph.microsoft.com"
CONNECTION = "credlybadges"
SOURCE_URL = (
    f"https://graph.microsoft.com/v1.0/admin/people/profileSources(sourceId='{CONNECTION}')"
)
SCHEMA_DELAY_S = 0.2
SLOW_SCHEMA_DELAY_S = 1.0
SCENARIO_TIMEOUT_S = 30.0  # a bound on hangs; the machine may be loaded (first use imports the SDK)
USER_COUNT = 7
PAGE_SIZE = 3

PEOPLE_SCHEMA = Schema(
    base_type="microsoft.graph.externalItem",
    properties=[
        Property_(
            name="accountInformation", type=PropertyType.String, labels=[Label.PersonAccount]
        ),
        Property_(
            name="certifications",
            type=PropertyType.StringCollection,
            labels=[Label.PersonCertifications],
        ),
        Property_(name="awards", type=PropertyType.StringCollection, labels=[Label.PersonAwards]),
        Property_(name="note", type=PropertyType.String),
    ],
)
SCHEMA_AS_STORED = {
    "baseType": "microsoft.graph.externalItem",
    "properties": [
        {"name": "accountInformation", "type": "string", "labels": ["personAccount"]},
        {"name": "certifications", "type": "stringCollection", "labels": ["personCertifications"]},
        {"name": "awards", "type": "stringCollection", "labels": ["personAwards"]},
        {"name": "note", "type": "string"},
    ],
}


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Run one async scenario to completion, bounded so a hang fails instead of blocking."""
    return asyncio.run(asyncio.wait_for(scenario, SCENARIO_TIMEOUT_S))


@asynccontextmanager
async def graph_service_client(
    graph_url: str,
    credential: TokenCredential,
    ca_file: Path,
    *,
    allowed_hosts: Sequence[str] = ("127.0.0.1",),
    scopes: Sequence[str] = (GRAPH_SCOPE,),
) -> AsyncIterator[GraphServiceClient]:
    """A `GraphServiceClient` for the Graph at `graph_url` (`<root>/v1.0`), trusting `ca_file`.

    The pipeline is the one `GraphServiceClient(credential)` builds (kiota's default middleware,
    retry included, plus Graph telemetry, with the SDK's own middleware options); only what
    pointing it at another host needs differs:

    - the base URL and the CA live on the httpx client (httpx adds a trailing slash to the base
      URL, so requests go to `<root>/v1.0//<path>`, exactly as the default client's do);
    - `allowed_hosts` must name the Graph host, or kiota silently sends no token at all;
    - `scopes` must be Graph's, or kiota derives `https://<host>/.default` from the URL.

    The caller owns (and closes) the credential; the httpx client is closed on exit.
    """
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=list(scopes), allowed_hosts=list(allowed_hosts)
    )
    http = httpx.AsyncClient(
        base_url=graph_url,
        verify=ssl.create_default_context(cafile=str(ca_file)),
        timeout=httpx.Timeout(SCENARIO_TIMEOUT_S),
        http2=True,
    )
    # Puts the SDK's middleware pipeline in front of the client's transport (in place).
    GraphClientFactory.create_with_default_middleware(client=http, options=sdk_middleware_options)
    try:
        yield GraphServiceClient(request_adapter=GraphRequestAdapter(auth, client=http))
    finally:
        await http.aclose()


def request_config(
    *,
    headers: dict[str, str] | None = None,
    options: list[RequestOption] | None = None,
) -> RequestConfiguration[QueryParameters]:
    """A request configuration carrying extra headers and middleware options."""
    config: RequestConfiguration[QueryParameters] = RequestConfiguration(options=options)
    for name, value in (headers or {}).items():
        config.headers.add(name, value)
    return config


def delta_config(select: list[str] | None) -> RequestConfiguration[DeltaQuery]:
    """A users/delta page request: `Prefer: odata.maxpagesize`, `$select` when given."""
    query = None if select is None else DeltaQuery(select=select)
    config = RequestConfiguration[DeltaQuery](query_parameters=query)
    config.headers.add("Prefer", f"odata.maxpagesize={PAGE_SIZE}")
    return config


def user(n: int) -> DirectoryUser:
    return DirectoryUser(
        id=f"00000000-0000-4000-8000-{n:012d}",
        display_name=f"User {n}",
        user_principal_name=f"user{n}@contoso.onmicrosoft.com",
        mail=f"user{n}@contoso.com",
        job_title="Engineer",
    )


def item_body(item_id: str, upn: str) -> tuple[ExternalItem, dict[str, Any]]:
    """An SDK external item for `upn`, and its properties as Graph should receive them."""
    properties = {
        "accountInformation": json.dumps({"userPrincipalName": upn}),
        "certifications@odata.type": "Collection(String)",
        "certifications": [
            json.dumps({"displayName": "Azure Administrator", "issuedDate": "2025-03-14"})
        ],
    }
    item = ExternalItem(
        id=item_id,
        acl=[Acl(type=AclType.Everyone, value=DEFAULT_TENANT_ID, access_type=AccessType.Grant)],
        properties=Properties(additional_data=dict(properties)),
    )
    return item, properties


async def ready_people_connection(
    client: GraphServiceClient,
) -> ExternalConnectionItemRequestBuilder:
    """Create the people connection, register its schema, wait for `completed`; its builder."""
    await client.external.connections.post(
        ExternalConnection(id=CONNECTION, name="Credly", content_category=ContentCategory.People)
    )
    connection = client.external.connections.by_external_connection_id(CONNECTION)
    inspect = HeadersInspectionHandlerOption(inspect_response_headers=True)
    await connection.schema.patch(
        PEOPLE_SCHEMA,
        request_configuration=request_config(
            headers={"Prefer": "include-unknown-enum-members"}, options=[inspect]
        ),
    )
    (location,) = inspect.response_headers.get("location")
    operation = connection.operations.by_connection_operation_id(location.rsplit("/", 1)[1])
    deadline = time.monotonic() + SCHEMA_DELAY_S + 2
    while True:
        status = await operation.get()
        assert status is not None
        if status.status is not ConnectionOperationStatus.Inprogress:
            break
        assert time.monotonic() < deadline, "schema operation still in progress"
        await asyncio.sleep(0.05)
    assert status.status is ConnectionOperationStatus.Completed, status.error
    return connection


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsIdentity:
    return TlsIdentity.self_signed(tmp_path_factory.mktemp("graph-tls"))


@pytest.fixture
def directory() -> Directory:
    directory = Directory()
    for n in range(1, USER_COUNT + 1):
        directory.upsert(user(n))
    return directory


@pytest.fixture
def graph(directory: Directory, tls: TlsIdentity) -> Iterator[GraphStandIn]:
    with GraphStandIn(directory, tls=tls, schema_delay_s=SCHEMA_DELAY_S) as standin:
        yield standin
        assert standin.server.internal_errors == []


def make_credential(
    graph: GraphStandIn, tls: TlsIdentity, secret: str = DEFAULT_CLIENT_SECRET
) -> ClientSecretCredential:
    """The credential the connector uses, pointed at the stand-in's token endpoint.

    `authority` is `host:port` (azure-identity adds `https://`); `connection_verify` trusts the
    stand-in's CA; `disable_instance_discovery` stops MSAL from validating the authority with
    login.microsoftonline.com (without it, get_token calls out to the internet before the
    stand-in is asked). No `additionally_allowed_tenants` is needed: tokens are only asked for
    the credential's own tenant.
    """
    return ClientSecretCredential(
        graph.tenant_id,
        DEFAULT_CLIENT_ID,
        secret,
        authority=graph.authority,
        connection_verify=str(tls.ca_file),
        disable_instance_discovery=True,
    )


@pytest.fixture
def credential(graph: GraphStandIn, tls: TlsIdentity) -> Iterator[ClientSecretCredential]:
    credential = make_credential(graph, tls)
    yield credential
    credential.close()


def identity_requests(graph: GraphStandIn) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in graph.server.requests.entries("identity")]


# -- 1. azure-identity ----------------------------------------------------------------------


def test_client_secret_credential_gets_a_token_the_standin_honours(
    graph: GraphStandIn, credential: ClientSecretCredential
) -> None:
    # given: the connector's credential pointed at the stand-in over TLS
    # when: it asks for a Graph token
    token = credential.get_token(GRAPH_SCOPE)

    # then: the stand-in issued it to our app, and MSAL only used the tenant's own endpoints
    grant = graph.identity.authenticate(f"Bearer {token.token}")
    assert grant.client_id == DEFAULT_CLIENT_ID
    assert "ExternalItem.ReadWrite.OwnedBy" in grant.roles
    assert token.expires_on > time.time() + 3000
    assert identity_requests(graph) == [
        ("GET", f"/{graph.tenant_id}/v2.0/.well-known/openid-configuration"),
        ("POST", f"/{graph.tenant_id}/oauth2/v2.0/token"),
    ]


def test_wrong_client_secret_raises_client_authentication_error(
    graph: GraphStandIn, tls: TlsIdentity
) -> None:
    # given: the credential with a wrong secret
    credential = make_credential(graph, tls, secret="not-the-secret")

    # when / then: Entra's AADSTS7000215 surfaces as ClientAuthenticationError
    with credential, pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token(GRAPH_SCOPE)
    assert graph.server.requests.count("identity", "POST", 401) == 1


# -- 2. client construction and its pitfalls ------------------------------------------------


def test_client_without_the_standin_among_allowed_hosts_sends_no_token(
    graph: GraphStandIn, credential: ClientSecretCredential, tls: TlsIdentity
) -> None:
    # given: a client whose allowed hosts are only Graph's real host
    async def scenario() -> ODataError:
        async with graph_service_client(
            graph.graph_url, credential, tls.ca_file, allowed_hosts=[GRAPH_HOST]
        ) as client:
            # when: it calls the stand-in
            with pytest.raises(ODataError) as raised:
                await client.external.connections.get()
            return raised.value

    error = run(scenario())

    # then: kiota silently skipped authentication, so the stand-in answered 401
    assert error.response_status_code == 401
    assert error.error is not None
    assert error.error.code == "InvalidAuthenticationToken"
    assert error.error.message == "Access token is empty."
    assert identity_requests(graph) == []


def test_client_without_graph_scope_asks_for_a_scope_entra_refuses(
    graph: GraphStandIn, credential: ClientSecretCredential, tls: TlsIdentity
) -> None:
    # given: a client leaving the scope to kiota (it derives https://127.0.0.1/.default)
    async def scenario() -> None:
        async with graph_service_client(
            graph.graph_url, credential, tls.ca_file, scopes=()
        ) as client:
            # when / then: the token request is refused before Graph is called
            with pytest.raises(ClientAuthenticationError, match="AADSTS1002012"):
                await client.external.connections.get()

    run(scenario())
    assert graph.server.requests.count("connections") == 0


def test_client_reads_the_standin_with_a_token(
    graph: GraphStandIn, credential: ClientSecretCredential, tls: TlsIdentity
) -> None:
    # given: the helper's client; when: it lists connections
    async def scenario() -> int:
        async with graph_service_client(graph.graph_url, credential, tls.ca_file) as client:
            listed = await client.external.connections.get()
            assert listed is not None
            assert listed.value == []
            return graph.server.requests.count("connections", "GET", 200)

    # then: one authenticated 200, one token fetched
    assert run(scenario()) == 1
    assert graph.server.requests.count("identity", "POST", 200) == 1


# -- 3. connection and schema ---------------------------------------------------------------


def test_schema_needs_prefer_and_its_operation_completes(
    graph: GraphStandIn, credential: ClientSecretCredential, tls: TlsIdentity
) -> None:
    # Long enough that the first poll surely sees `inprogress` (first use imports SDK modules).
    graph.state.connectors.schema_delay_s = SLOW_SCHEMA_DELAY_S

    async def scenario() -> tuple[ODataError, list[ConnectionOperationStatus], ConnectionState]:
        async with graph_service_client(graph.graph_url, credential, tls.ca_file) as client:
            # given: a people connection created through the SDK
            created = await client.external.connections.post(
                ExternalConnection(
                    id=CONNECTION, name="Credly", content_category=ContentCategory.People
                )
            )
            assert created is not None
            assert created.state is ConnectionState.Draft
            connection = client.external.connections.by_external_connection_id(CONNECTION)

            # when: the schema is sent without the Prefer header, it is refused
            with pytest.raises(ODataError) as refused:
                await connection.schema.patch(PEOPLE_SCHEMA)

            # when: sent with it, the Location header names the schema operation
            inspect = HeadersInspectionHandlerOption(inspect_response_headers=True)
            answer = await connection.schema.patch(
                PEOPLE_SCHEMA,
                request_configuration=request_config(
                    headers={"Prefer": "include-unknown-enum-members"}, options=[inspect]
                ),
            )
            assert answer is None  # 202, no body
            (location,) = inspect.response_headers.get("location")
            prefix = f"{graph.graph_url}/external/connections/{CONNECTION}/operations/"
            assert location.startswith(prefix)
            operation = connection.operations.by_connection_operation_id(location[len(prefix) :])

            # then: polling sees it in progress, then completed, and the connection is ready
            seen: list[ConnectionOperationStatus] = []
            deadline = time.monotonic() + SLOW_SCHEMA_DELAY_S + 2
            while not seen or seen[-1] is ConnectionOperationStatus.Inprogress:
                assert time.monotonic() < deadline, seen
                polled = await operation.get()
                assert polled is not None
                assert polled.status is not None
                seen.append(polled.status)
                await asyncio.sleep(0.05)
            ready = await connection.get()
            assert ready is not None
            assert ready.state is not None
            return refused.value, seen, ready.state

    refused, seen, state = run(scenario())
    assert refused.response_status_code == 400
    assert refused.error is not None
    assert refused.error.code == INVALID_REQUEST
    assert "include-unknown-enum-members" in (refused.error.message or "")
    assert seen[0] is ConnectionOperationStatus.Inprogress
    assert seen[-1] is ConnectionOperationStatus.Completed
    assert state is ConnectionState.Ready
    assert graph.state.connectors.schema(CONNECTION) == SCHEMA_AS_STORED
    assert graph.state.connectors.connection(CONNECTION) == {
        "id": CONNECTION,
        "name": "Credly",
        "description": None,
        "contentCategory": "people",
        "connectorId": None,
        "state": "ready",
    }


# -- 4. items -------------------------------------------------------------------------------


def test_item_put_is_stored_exactly_then_deleted(
    graph: GraphStandIn, credential: ClientSecretCredential, tls: TlsIdentity
) -> None:
    item, properties = item_body("user1", "user1@contoso.onmicrosoft.com")
    expected = {
        "id": "user1",
        "acl": [{"type": "everyone", "value": DEFAULT_TENANT_ID, "accessType": "grant"}],
        "properties": properties,
    }

    async def scenario() -> tuple[dict[str, Any], list[Any]]:
        async with graph_service_client(graph.graph_url, credential, tls.ca_file) as client:
            # given: a ready people connection
            connection = await ready_people_connection(client)
            # when: an item is PUT
            await connection.items.by_external_item_id("user1").put(item)
            stored = graph.state.connectors.items(CONNECTION)
            ignored = graph.state.connectors.ignored_values(CONNECTION, "user1")
            # when: it is deleted
            await connection.items.by_external_item_id("user1").delete()
            return stored, ignored

    stored, ignored = run(scenario())

    # then: the stand-in kept exactly what was sent, nothing ignored; then it was gone
    assert stored == {"user1": expected}
    assert ignored == []
    assert graph.state.connectors.items(CONNECTION) == {}
    assert graph.state.connectors.write_count(CONNECTION) == 1
    assert graph.state.connectors.delete_count(CONNECTION) == 1


# -- 5. profile source and precedence -------------------------------------------------------


def test_profile_source_registered_and_put_first_in_precedence(
    graph: GraphStandIn, credential: ClientSecretCredential, tls: TlsIdentity
) -> None:
    async def scenario() -> tuple[ProfileSource, ProfileSource, ProfilePropertySetting]:
        async with graph_service_client(graph.graph_url, credential, tls.ca_file) as client:
            people = client.admin.people
            # given: our profile source registered
            created = await people.profile_sources.post(
                ProfileSource(
                    source_id=CONNECTION,
                    display_name="Credly",
                    kind="Connector",
                    web_url="https://www.credly.com",
                )
            )
            assert created is not None
            # when: it is read back by its alternate key
            by_key = await people.profile_sources_with_source_id(CONNECTION).get()
            assert by_key is not None
            # and: the org-wide precedence entry lists it first
            settings = await people.profile_property_settings.get()
            assert settings is not None
            assert settings.value is not None
            (org_wide,) = [s for s in settings.value if s.name is None]
            assert org_wide.id is not None
            assert org_wide.prioritized_source_urls == [ENTRA_SOURCE_URL]
            setting = people.profile_property_settings.by_profile_property_setting_id(org_wide.id)
            await setting.patch(
                ProfilePropertySetting(
                    prioritized_source_urls=[SOURCE_URL, *org_wide.prioritized_source_urls]
                )
            )
            reread = await setting.get()
            assert reread is not None
            return created, by_key, reread

    created, by_key, reread = run(scenario())

    # then: the source round-trips and the order is kept
    assert by_key.id == created.id
    assert (by_key.source_id, by_key.display_name, by_key.kind, by_key.web_url) == (
        CONNECTION,
        "Credly",
        "Connector",
        "https://www.credly.com",
    )
    assert graph.state.people_settings.profile_source(CONNECTION)["displayName"] == "Credly"
    assert reread.prioritized_source_urls == [SOURCE_URL, ENTRA_SOURCE_URL]
    assert reread.id is not None
    stored = graph.state.people_settings.property_setting(reread.id)
    assert stored["prioritizedSourceUrls"] == [SOURCE_URL, ENTRA_SOURCE_URL]


# -- 6. users delta -------------------------------------------------------------------------


def test_users_delta_pages_then_delta_link_sees_changes(
    graph: GraphStandIn,
    credential: ClientSecretCredential,
    tls: TlsIdentity,
    directory: Directory,
) -> None:
    select = ["id", "displayName", "userPrincipalName", "mail"]

    async def delta_round(
        client: GraphServiceClient, builder: DeltaRequestBuilder, select: list[str] | None
    ) -> tuple[list[list[User]], str]:
        """Every page of one delta round (following nextLinks), and the round's deltaLink."""
        config = delta_config(select)
        pages: list[list[User]] = []
        while len(pages) <= USER_COUNT:
            page = await builder.get(request_configuration=config)
            assert page is not None
            pages.append(list(page.value or []))
            if page.odata_delta_link is not None:
                return pages, page.odata_delta_link
            assert page.odata_next_link is not None
            builder = client.users.delta.with_url(page.odata_next_link)
            config = delta_config(None)  # the nextLink carries $select on
        raise AssertionError(f"no deltaLink after {len(pages)} pages")

    async def scenario() -> tuple[list[list[User]], list[list[User]]]:
        async with graph_service_client(graph.graph_url, credential, tls.ca_file) as client:
            # given: a directory bigger than one page; when: a full delta round is read
            first, delta_link = await delta_round(client, client.users.delta, select)
            # when: the directory changes and the delta link is followed
            directory.upsert(replace(user(3), display_name="Renamed"))
            directory.remove(user(5).id)
            second, _ = await delta_round(client, client.users.delta.with_url(delta_link), None)
            return first, second

    first, second = run(scenario())

    # then: every user once, in pages of PAGE_SIZE, only the selected properties
    assert [len(p) for p in first] == [3, 3, 1]
    seen = [u for page in first for u in page]
    assert len(seen) == USER_COUNT
    assert {u.id for u in seen} == {user(n).id for n in range(1, USER_COUNT + 1)}
    assert {u.user_principal_name for u in seen} == {
        user(n).user_principal_name for n in range(1, USER_COUNT + 1)
    }
    assert all(u.display_name and u.job_title is None for u in seen)
    first_query = graph.server.requests.entries("delta")[0].query
    assert parse_qs(first_query) == {"$select": [",".join(select)]}
    # then: the second round has exactly the rename and the removal
    (changes,) = second
    by_id = {u.id: u for u in changes}
    assert set(by_id) == {user(3).id, user(5).id}
    assert by_id[user(3).id].display_name == "Renamed"
    assert by_id[user(3).id].job_title is None
    assert by_id[user(5).id].additional_data["@removed"] == {"reason": "deleted"}


# -- 7. errors ------------------------------------------------------------------------------


def test_throttled_item_put_is_retried_after_retry_after(
    graph: GraphStandIn, credential: ClientSecretCredential, tls: TlsIdentity
) -> None:
    first, _ = item_body("user1", "user1@contoso.onmicrosoft.com")
    second, _ = item_body("user2", "user2@contoso.onmicrosoft.com")
    one_retry = RetryHandlerOption(delay=0, max_retries=1)
    inspect = HeadersInspectionHandlerOption(inspect_response_headers=True)

    async def scenario() -> float:
        async with graph_service_client(graph.graph_url, credential, tls.ca_file) as client:
            connection = await ready_people_connection(client)
            # given: items limited to one request per second, the burst spent by a first PUT
            graph.knobs.set_rate_limit("items", RateLimit(per_second=1, burst=1))
            await connection.items.by_external_item_id("user1").put(first)
            # when: a second PUT comes at once
            started = time.monotonic()
            await connection.items.by_external_item_id("user2").put(
                second, request_configuration=request_config(options=[one_retry, inspect])
            )
            return time.monotonic() - started

    elapsed = run(scenario())

    # then: 429 with Retry-After 1, the SDK waited and retried once, and the item is stored
    puts = graph.server.requests.entries("items", "PUT")
    assert [(e.path.rsplit("/", 1)[1], e.status) for e in puts] == [
        ("user1", 200),
        ("user2", 429),
        ("user2", 200),
    ]
    assert inspect.response_headers.get("retry-after") == {"1"}
    assert 1.0 <= elapsed < 3.0
    assert set(graph.state.connectors.items(CONNECTION)) == {"user1", "user2"}


def test_refused_item_raises_odata_error_with_the_standin_code(
    graph: GraphStandIn, credential: ClientSecretCredential, tls: TlsIdentity
) -> None:
    item, _ = item_body("not-valid", "user1@contoso.onmicrosoft.com")

    async def scenario() -> ODataError:
        async with graph_service_client(graph.graph_url, credential, tls.ca_file) as client:
            connection = await ready_people_connection(client)
            # when: an item id that is not alphanumeric is PUT
            with pytest.raises(ODataError) as raised:
                await connection.items.by_external_item_id("not-valid").put(item)
            return raised.value

    error = run(scenario())

    # then: the SDK raises ODataError carrying the stand-in's status, code and message
    assert error.response_status_code == 400
    assert error.error is not None
    assert error.error.code == INVALID_REQUEST
    assert error.error.message is not None
    assert "'not-valid' is invalid" in error.error.message
    assert graph.state.connectors.items(CONNECTION) == {}
