"""The Graph stand-in over real loopback HTTP: identity, connections, schema, items, people
settings, users/delta, auth and knobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devstack.graph.directory import Directory, DirectoryUser
from devstack.graph.identity import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT_ID,
    DEFAULT_TOKEN_LIFETIME_S,
    App,
)
from devstack.graph.people_settings import ENTRA_SOURCE_URL
from devstack.graph.server import GraphStandIn
from devstack.standin import RateLimit, TlsIdentity

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PREFER_ENUMS = {"Prefer": "include-unknown-enum-members"}
SCHEMA_DELAY_S = 5.0
CONNECTION = "credlybadges"
READER_ID, READER_SECRET = "11111111-2222-3333-4444-555555555555", "reader-secret"
ALL_ID, ALL_SECRET = "66666666-7777-8888-9999-000000000000", "all-secret"

PEOPLE_SCHEMA: dict[str, Any] = {
    "baseType": "microsoft.graph.externalItem",
    "properties": [
        {"name": "accountInformation", "type": "string", "labels": ["personAccount"]},
        {"name": "certifications", "type": "stringCollection", "labels": ["personCertifications"]},
        {"name": "awards", "type": "stringCollection", "labels": ["personAwards"]},
        {"name": "note", "type": "string"},
    ],
}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """A requests session pointed at the stand-in's Graph root."""

    def __init__(self, standin: GraphStandIn, token: str | None) -> None:
        self.standin = standin
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.standin.graph_url}{path}"
        return self.session.request(method, url, timeout=5, **kwargs)


def user(n: int, **fields: Any) -> DirectoryUser:
    values: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-00000000000{n}",
        "display_name": f"User {n}",
        "user_principal_name": f"user{n}@contoso.onmicrosoft.com",
        "mail": f"User{n}@contoso.com",
        "proxy_addresses": [f"SMTP:User{n}@contoso.com", f"smtp:u{n}@contoso.net"],
        "other_mails": [f"user{n}@personal.example"],
    }
    values.update(fields)
    return DirectoryUser(**values)


def item_body(
    account: str = '{"userPrincipalName":"user1@contoso.onmicrosoft.com"}',
) -> dict[str, Any]:
    return {
        "acl": [{"type": "everyone", "value": DEFAULT_TENANT_ID, "accessType": "grant"}],
        "properties": {
            "accountInformation": account,
            "certifications@odata.type": "Collection(String)",
            "certifications": ['{"displayName":"Azure Administrator","issuedDate":"2025-03-14"}'],
        },
    }


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    return error


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def directory() -> Directory:
    directory = Directory()
    for n in range(1, 6):
        directory.upsert(user(n))
    return directory


@pytest.fixture
def graph(directory: Directory, clock: FakeClock) -> Iterator[GraphStandIn]:
    apps = [
        App(),
        App(READER_ID, READER_SECRET, frozenset({"PeopleSettings.Read.All"})),
        App(
            ALL_ID,
            ALL_SECRET,
            frozenset({"ExternalConnection.ReadWrite.All", "ExternalItem.ReadWrite.All"}),
        ),
    ]
    with GraphStandIn(directory, apps=apps, clock=clock, schema_delay_s=SCHEMA_DELAY_S) as standin:
        yield standin


@pytest.fixture
def api(graph: GraphStandIn) -> Iterator[Api]:
    client = Api(graph, graph.token())
    yield client
    client.session.close()


@pytest.fixture
def people(api: Api, clock: FakeClock) -> str:
    """A people connection whose schema operation has completed."""
    created = api(
        "POST",
        "/external/connections",
        json={"id": CONNECTION, "name": "Credly", "contentCategory": "people"},
    )
    assert created.status_code == 201, created.text
    patched = api(
        "PATCH",
        f"/external/connections/{CONNECTION}/schema",
        json=PEOPLE_SCHEMA,
        headers=PREFER_ENUMS,
    )
    assert patched.status_code == 202, patched.text
    clock.advance(SCHEMA_DELAY_S)
    return CONNECTION


# -- identity -------------------------------------------------------------------------------


def token_form(**overrides: str) -> dict[str, str]:
    form = {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "grant_type": "client_credentials",
        "scope": GRAPH_SCOPE,
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v}


def test_token_endpoint_issues_a_bearer_token_that_graph_accepts(graph: GraphStandIn) -> None:
    answer = requests.post(graph.token_url, data=token_form(), timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == 3599
    users = requests.get(
        f"{graph.graph_url}/users/delta",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=5,
    )
    assert users.status_code == 200


UNKNOWN_CLIENT = "99999999-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("tenant", "overrides", "expected"),
    [
        (None, {"client_secret": "wrong"}, (401, "invalid_client", 7000215)),
        (None, {"client_secret": ""}, (401, "invalid_client", 7000218)),
        ("not-a-tenant", {}, (400, "invalid_request", 90002)),
        (None, {"client_id": UNKNOWN_CLIENT}, (400, "unauthorized_client", 700016)),
        (None, {"grant_type": "password"}, (400, "unsupported_grant_type", 70003)),
        (None, {"grant_type": ""}, (400, "invalid_request", 900144)),
        (None, {"scope": "https://graph.microsoft.com/User.Read"}, (400, "invalid_scope", 1002012)),
    ],
)
def test_token_endpoint_refuses_like_entra(
    graph: GraphStandIn,
    tenant: str | None,
    overrides: dict[str, str],
    expected: tuple[int, str, int],
) -> None:
    status, error, code = expected
    url = f"{graph.base_url}/{tenant or graph.tenant_id}/oauth2/v2.0/token"
    answer = requests.post(url, data=token_form(**overrides), timeout=5)
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


def test_discovery_documents_point_at_the_standin(graph: GraphStandIn) -> None:
    config = requests.get(
        f"{graph.base_url}/{graph.tenant_id}/v2.0/.well-known/openid-configuration", timeout=5
    ).json()
    assert config["token_endpoint"] == graph.token_url
    assert config["issuer"] == f"{graph.base_url}/{graph.tenant_id}/v2.0"
    assert config["authorization_endpoint"].startswith(graph.base_url)


def test_azure_identity_gets_a_token_over_tls(directory: Directory, tmp_path: Path) -> None:
    from azure.identity import ClientSecretCredential

    tls = TlsIdentity.self_signed(tmp_path)
    with GraphStandIn(directory, tls=tls) as graph:
        credential = ClientSecretCredential(
            graph.tenant_id,
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            authority=graph.authority,
            connection_verify=str(tls.ca_file),
            disable_instance_discovery=True,
        )
        token = credential.get_token(GRAPH_SCOPE)
        credential.close()
        answer = requests.get(
            f"{graph.graph_url}/users/delta",
            headers={"Authorization": f"Bearer {token.token}"},
            verify=str(tls.ca_file),
            timeout=5,
        )
    assert answer.status_code == 200
    assert answer.json()["value"][0]["id"] == user(1).id


def test_apps_lists_the_default_app_first(directory: Directory) -> None:
    reader = App(READER_ID, READER_SECRET, frozenset({"PeopleSettings.Read.All"}))
    assert [a.client_id for a in GraphStandIn(directory).apps] == [DEFAULT_CLIENT_ID]
    standin = GraphStandIn(directory, apps=[reader, App()])
    assert [a.client_id for a in standin.apps] == [DEFAULT_CLIENT_ID, READER_ID]
    assert standin.apps[0].client_secret == DEFAULT_CLIENT_SECRET


# -- bearer checks --------------------------------------------------------------------------


def test_graph_routes_need_a_bearer_token(graph: GraphStandIn) -> None:
    anonymous = Api(graph, None)
    answer = anonymous("GET", "/external/connections")
    error = assert_error(answer, 401, "InvalidAuthenticationToken")
    assert error["message"] == "Access token is empty."
    assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    assert_error(Api(graph, "garbage")("GET", "/users/delta"), 401, "InvalidAuthenticationToken")
    assert_error(Api(graph, "a.b.c")("GET", "/users/delta"), 401, "InvalidAuthenticationToken")
    anonymous.session.close()


def test_expired_tokens_are_refused(graph: GraphStandIn, api: Api, clock: FakeClock) -> None:
    assert api("GET", "/users/delta").status_code == 200
    clock.advance(DEFAULT_TOKEN_LIFETIME_S)
    error = assert_error(api("GET", "/users/delta"), 401, "InvalidAuthenticationToken")
    assert "expired" in error["message"]
    fresh = Api(graph, graph.token())
    assert fresh("GET", "/users/delta").status_code == 200
    fresh.session.close()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/external/connections", None),
        ("PUT", f"/external/connections/{CONNECTION}/items/u1", {}),
        ("GET", "/users/delta", None),
        ("POST", "/admin/people/profileSources", {"sourceId": "x", "displayName": "X"}),
        ("PATCH", "/admin/people/profilePropertySettings/any", {"prioritizedSourceUrls": []}),
    ],
)
def test_missing_app_permission_is_403(
    graph: GraphStandIn, method: str, path: str, body: dict[str, Any] | None
) -> None:
    reader = Api(graph, graph.token(READER_ID))
    assert_error(reader(method, path, json=body), 403, "Authorization_RequestDenied")
    reader.session.close()


def test_read_permission_reads_people_settings(graph: GraphStandIn) -> None:
    reader = Api(graph, graph.token(READER_ID))
    assert reader("GET", "/admin/people/profilePropertySettings").status_code == 200
    assert_error(reader("GET", SOURCE_PATH), 404, "NotFound")  # read, not refused
    reader.session.close()


def test_all_permissions_satisfy_owned_by(graph: GraphStandIn) -> None:
    admin = Api(graph, graph.token(ALL_ID))
    created = admin("POST", "/external/connections", json={"id": "other", "name": "Other"})
    assert created.status_code == 201
    admin.session.close()


# -- connections ----------------------------------------------------------------------------


def test_connection_create_get_list_delete(api: Api, clock: FakeClock) -> None:
    body = {
        "id": CONNECTION,
        "name": "Credly",
        "description": "Badges",
        "contentCategory": "people",
    }
    created = api("POST", "/external/connections", json=body)
    assert created.status_code == 201
    assert {k: created.json()[k] for k in (*body, "state")} == {**body, "state": "draft"}
    assert api("GET", f"/external/connections/{CONNECTION}").json()["name"] == "Credly"
    listed = api("GET", "/external/connections").json()["value"]
    assert [c["id"] for c in listed] == [CONNECTION]
    assert_error(api("POST", "/external/connections", json=body), 409, "Conflict")
    deleting = api("DELETE", f"/external/connections/{CONNECTION}")
    # As in Graph: 202 and an operation; the connection is gone once it completed.
    assert deleting.status_code == 202
    operation = deleting.headers["Location"].rpartition("/external/connections/")[2]
    assert operation.startswith(f"{CONNECTION}/operations/")
    path = f"/external/connections/{operation}"
    assert api("GET", path).json()["status"] == "inprogress"
    again = api("DELETE", f"/external/connections/{CONNECTION}")
    assert again.headers["Location"] == deleting.headers["Location"]
    clock.advance(SCHEMA_DELAY_S)
    assert_error(api("GET", f"/external/connections/{CONNECTION}"), 404, "NotFound")
    assert_error(api("GET", path), 404, "NotFound")
    assert_error(api("DELETE", f"/external/connections/{CONNECTION}"), 404, "NotFound")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "No id"}, "'id' is required"),
        ({"id": "ab", "name": "x"}, "between 3 and 32"),
        ({"id": "a" * 33, "name": "x"}, "between 3 and 32"),
        ({"id": "credly-badges", "name": "x"}, "alphanumeric"),
        ({"id": "MicrosoftBadges", "name": "x"}, "must not start with 'Microsoft'"),
        ({"id": "SharePoint", "name": "x"}, "reserved"),
        ({"id": "TopicEngine", "name": "x"}, "reserved"),
        ({"id": "credly"}, "'name' is required"),
        ({"id": "credly", "name": "n" * 129}, "at most 128"),
    ],
)
def test_connection_rules_are_400_invalid_request(
    api: Api, body: dict[str, Any], needle: str
) -> None:
    error = assert_error(api("POST", "/external/connections", json=body), 400, "InvalidRequest")
    assert needle in error["message"]


def test_connection_unknown_content_category_is_400(api: Api) -> None:
    body = {"id": "credly", "name": "x", "contentCategory": "persons"}
    assert_error(api("POST", "/external/connections", json=body), 400, "BadRequest")


def test_deleting_a_connection_removes_its_items(
    api: Api, people: str, graph: GraphStandIn, clock: FakeClock
) -> None:
    assert (
        api("PUT", f"/external/connections/{people}/items/u1", json=item_body()).status_code == 200
    )
    assert api("DELETE", f"/external/connections/{people}").status_code == 202
    clock.advance(SCHEMA_DELAY_S)
    api(
        "POST",
        "/external/connections",
        json={"id": people, "name": "Again", "contentCategory": "people"},
    )
    assert graph.state.connectors.items(people) == {}
    assert_error(api("GET", f"/external/connections/{people}/schema"), 404, "NotFound")


# -- schema and operations ------------------------------------------------------------------


def test_schema_operation_lifecycle(api: Api, clock: FakeClock, graph: GraphStandIn) -> None:
    api(
        "POST",
        "/external/connections",
        json={"id": CONNECTION, "name": "C", "contentCategory": "people"},
    )
    patched = api(
        "PATCH",
        f"/external/connections/{CONNECTION}/schema",
        json=PEOPLE_SCHEMA,
        headers=PREFER_ENUMS,
    )
    assert patched.status_code == 202
    location = patched.headers["Location"]
    assert location.startswith(f"{graph.graph_url}/external/connections/{CONNECTION}/operations/")
    operation = api("GET", location).json()
    assert operation == {"id": location.rsplit("/", 1)[1], "status": "inprogress", "error": None}
    assert api("GET", f"/external/connections/{CONNECTION}").json()["state"] == "draft"
    assert_error(api("GET", f"/external/connections/{CONNECTION}/schema"), 404, "NotFound")
    clock.advance(SCHEMA_DELAY_S)
    assert api("GET", location).json()["status"] == "completed"
    assert api("GET", f"/external/connections/{CONNECTION}").json()["state"] == "ready"
    schema = api("GET", f"/external/connections/{CONNECTION}/schema", headers=PREFER_ENUMS).json()
    assert schema["properties"] == [
        {**p, "labels": p.get("labels", [])} for p in PEOPLE_SCHEMA["properties"]
    ]
    assert_error(api("GET", f"/external/connections/{CONNECTION}/operations/nope"), 404, "NotFound")


def test_schema_operation_can_be_made_to_fail(
    api: Api, clock: FakeClock, graph: GraphStandIn
) -> None:
    api(
        "POST",
        "/external/connections",
        json={"id": CONNECTION, "name": "C", "contentCategory": "people"},
    )
    graph.state.connectors.fail_next_schema_operation("Provisioning failed.")
    location = api(
        "PATCH",
        f"/external/connections/{CONNECTION}/schema",
        json=PEOPLE_SCHEMA,
        headers=PREFER_ENUMS,
    ).headers["Location"]
    clock.advance(SCHEMA_DELAY_S)
    operation = api("GET", location).json()
    assert operation["status"] == "failed"
    assert operation["error"]["message"] == "Provisioning failed."
    assert api("GET", f"/external/connections/{CONNECTION}").json()["state"] == "draft"
    retry = api(
        "PATCH",
        f"/external/connections/{CONNECTION}/schema",
        json=PEOPLE_SCHEMA,
        headers=PREFER_ENUMS,
    )
    assert retry.status_code == 202
    clock.advance(SCHEMA_DELAY_S)
    assert api("GET", retry.headers["Location"]).json()["status"] == "completed"


def test_person_labels_need_the_prefer_header(api: Api, people: str) -> None:
    api(
        "POST",
        "/external/connections",
        json={"id": "second", "name": "C", "contentCategory": "people"},
    )
    error = assert_error(
        api("PATCH", "/external/connections/second/schema", json=PEOPLE_SCHEMA),
        400,
        "InvalidRequest",
    )
    assert "include-unknown-enum-members" in error["message"]
    hidden = api("GET", f"/external/connections/{people}/schema").json()
    assert [p["labels"] for p in hidden["properties"]] == [["unknownFutureValue"]] * 3 + [[]]
    shown = api("GET", f"/external/connections/{people}/schema", headers=PREFER_ENUMS)
    assert shown.headers["Preference-Applied"] == "include-unknown-enum-members"
    assert shown.json()["properties"][2]["labels"] == ["personAwards"]


def test_people_schema_cannot_be_updated(api: Api, clock: FakeClock) -> None:
    api(
        "POST",
        "/external/connections",
        json={"id": CONNECTION, "name": "C", "contentCategory": "people"},
    )
    path = f"/external/connections/{CONNECTION}/schema"
    assert api("PATCH", path, json=PEOPLE_SCHEMA, headers=PREFER_ENUMS).status_code == 202
    assert_error(
        api("PATCH", path, json=PEOPLE_SCHEMA, headers=PREFER_ENUMS), 400, "UpdateNotAllowed"
    )
    clock.advance(SCHEMA_DELAY_S)
    assert_error(
        api("PATCH", path, json=PEOPLE_SCHEMA, headers=PREFER_ENUMS), 400, "UpdateNotAllowed"
    )


def test_other_connections_may_replace_their_schema(api: Api, clock: FakeClock) -> None:
    api("POST", "/external/connections", json={"id": "wiki", "name": "Wiki"})
    schema = {
        "baseType": "microsoft.graph.externalItem",
        "properties": [{"name": "title", "type": "string", "labels": ["title"]}],
    }
    assert api("PATCH", "/external/connections/wiki/schema", json=schema).status_code == 202
    clock.advance(SCHEMA_DELAY_S)
    assert api("PATCH", "/external/connections/wiki/schema", json=schema).status_code == 202


def prop(name: str, type_name: str = "string", *labels: str) -> dict[str, Any]:
    return {"name": name, "type": type_name, "labels": list(labels)}


def schema_with(*properties: dict[str, Any]) -> dict[str, Any]:
    account = {"name": "account", "type": "string", "labels": ["personAccount"]}
    return {"baseType": "microsoft.graph.externalItem", "properties": [account, *properties]}


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({**schema_with(), "baseType": "microsoft.graph.item"}, "baseType"),
        ({**schema_with(), "properties": []}, "at least one property"),
        (schema_with(*[prop(f"p{i}") for i in range(128)]), "at most 128"),
        (schema_with(prop("n" * 33)), "longer than 32"),
        (schema_with(prop("bad_name")), "alphanumeric"),
        (schema_with(prop("Account")), "more than once"),
        (schema_with(prop("x", "text")), "unknown type"),
        (schema_with(prop("x", "string", "personFavourites")), "unknown label"),
        ({**schema_with(), "properties": [prop("x")]}, "exactly one"),
        (schema_with(prop("a2", "string", "personAccount")), "used on both"),
        (
            {**schema_with(), "properties": [prop("a", "stringCollection", "personAccount")]},
            "must be of type 'string'",
        ),
        (schema_with(prop("awards", "string", "personAwards")), "'stringCollection'"),
        (
            schema_with(prop("site", "stringCollection", "personWebSite")),
            "must be of type 'string'",
        ),
        (schema_with(prop("title", "string", "title")), "only person* labels"),
        (schema_with(prop("link", "string", "url")), "only person* labels"),
        (schema_with(prop("tags", "stringCollection")), "Unlabelled property"),
        (schema_with(prop("owner", "principal")), "not supported on a people"),
        (schema_with(prop("boss", "string", "personManager")), "not supported on a people"),
    ],
)
def test_schema_rules_are_400(api: Api, schema: dict[str, Any], needle: str) -> None:
    api(
        "POST",
        "/external/connections",
        json={"id": CONNECTION, "name": "C", "contentCategory": "people"},
    )
    answer = api(
        "PATCH", f"/external/connections/{CONNECTION}/schema", json=schema, headers=PREFER_ENUMS
    )
    error = assert_error(answer, 400, "InvalidRequest")
    assert needle in error["message"]


def test_person_labels_need_a_people_connection(api: Api) -> None:
    api("POST", "/external/connections", json={"id": "wiki", "name": "Wiki"})
    answer = api(
        "PATCH", "/external/connections/wiki/schema", json=PEOPLE_SCHEMA, headers=PREFER_ENUMS
    )
    assert "contentCategory 'people'" in assert_error(answer, 400, "InvalidRequest")["message"]


def test_schema_of_missing_connection_is_404(api: Api) -> None:
    answer = api(
        "PATCH", "/external/connections/nothere/schema", json=PEOPLE_SCHEMA, headers=PREFER_ENUMS
    )
    assert_error(answer, 404, "NotFound")


# -- items ----------------------------------------------------------------------------------


def test_items_upsert_delete(api: Api, people: str, graph: GraphStandIn) -> None:
    path = f"/external/connections/{people}/items/u1"
    assert api("PUT", path, json=item_body()).status_code == 200
    stored = graph.state.connectors.items(people)["u1"]
    assert stored["id"] == "u1"
    assert stored["properties"] == item_body()["properties"]
    replaced = item_body('{"userPrincipalName":"user2@contoso.onmicrosoft.com"}')
    assert api("PUT", path, json=replaced).status_code == 200
    stored = graph.state.connectors.items(people)["u1"]
    assert stored["properties"]["accountInformation"].endswith('user2@contoso.onmicrosoft.com"}')
    assert list(graph.state.connectors.items(people)) == ["u1"]
    assert graph.state.connectors.write_count(people) == 2
    assert api("DELETE", path).status_code == 204
    assert graph.state.connectors.items(people) == {}
    assert_error(api("DELETE", path), 404, "NotFound")
    assert graph.state.connectors.delete_count(people) == 1


def test_items_wait_for_the_schema(api: Api) -> None:
    api(
        "POST",
        "/external/connections",
        json={"id": CONNECTION, "name": "C", "contentCategory": "people"},
    )
    path = f"/external/connections/{CONNECTION}/items/u1"
    assert (
        "not registered"
        in assert_error(api("PUT", path, json=item_body()), 409, "InvalidRequest")["message"]
    )
    api(
        "PATCH",
        f"/external/connections/{CONNECTION}/schema",
        json=PEOPLE_SCHEMA,
        headers=PREFER_ENUMS,
    )
    assert (
        "still being registered"
        in assert_error(api("PUT", path, json=item_body()), 409, "InvalidRequest")["message"]
    )


def test_items_of_a_missing_connection_are_404(api: Api) -> None:
    assert_error(
        api("PUT", "/external/connections/nothere/items/u1", json=item_body()), 404, "NotFound"
    )


def test_item_over_4_mb_is_413(api: Api, people: str) -> None:
    body = item_body()
    body["properties"]["note"] = "x" * (4 * 1024 * 1024)
    answer = api("PUT", f"/external/connections/{people}/items/u1", json=body)
    assert_error(answer, 413, "RequestEntityTooLarge")


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def with_properties(**properties: Any) -> dict[str, Any]:
    body = item_body()
    body["properties"] = {**body["properties"], **properties}
    return body


def with_acl(acl_type: str, access: str) -> dict[str, Any]:
    return {**item_body(), "acl": [{"type": acl_type, "value": "x", "accessType": access}]}


@pytest.mark.parametrize(
    ("item_id", "body", "needle"),
    [
        ("u-1", item_body(), "alphanumeric"),
        ("u" * 129, item_body(), "at most 128"),
        ("u1", without(item_body(), "acl"), "'acl'"),
        ("u1", with_acl("user", "grant"), "'everyone'"),
        ("u1", with_acl("everyone", "deny"), "'everyone'"),
        ("u1", with_acl("world", "grant"), "invalid type"),
        ("u1", without(item_body(), "properties"), "'properties'"),
        ("u1", {**item_body(), "properties": {"@odata.type": "x"}}, "at least one property"),
        ("u1", with_properties(badges=["x"]), "not in the connection's schema"),
        ("u1", with_properties(note=["a list"]), "type 'string'"),
        ("u1", with_properties(certifications="{}"), "type 'stringCollection'"),
        ("u1", with_properties(certifications=[1, 2]), "type 'stringCollection'"),
        ("u1", with_properties(awards=["{}"]), '"awards@odata.type": "Collection(String)"'),
        ("u1", with_properties(**{"certifications@odata.type": "Collection(Int64)"}), "(String)"),
        ("u1", {**item_body(), "id": "u2"}, "differs"),
    ],
)
def test_item_rules_are_400(
    api: Api, people: str, item_id: str, body: dict[str, Any], needle: str
) -> None:
    answer = api("PUT", f"/external/connections/{people}/items/{item_id}", json=body)
    error = assert_error(answer, 400, "InvalidRequest")
    assert needle in error["message"]


def test_unknown_item_field_is_400_bad_request(api: Api, people: str) -> None:
    answer = api(
        "PUT", f"/external/connections/{people}/items/u1", json={**item_body(), "acls": []}
    )
    assert_error(answer, 400, "BadRequest")


def test_labelled_values_that_are_not_json_objects_are_accepted_but_ignored(
    api: Api, people: str, graph: GraphStandIn
) -> None:
    path = f"/external/connections/{people}/items/u1"
    body = item_body(account="user1@contoso.onmicrosoft.com")
    body["properties"]["certifications"] = ['{"displayName":"ok"}', "{not json", '"just a string"']
    body["properties"]["note"] = "free text is fine"
    assert api("PUT", path, json=body).status_code == 200
    ignored = graph.state.connectors.ignored_values(people, "u1")
    assert [(v.property, v.label, v.index, v.reason) for v in ignored] == [
        ("accountInformation", "personAccount", None, "not valid JSON"),
        ("certifications", "personCertifications", 1, "not valid JSON"),
        ("certifications", "personCertifications", 2, "not a JSON-encoded object"),
    ]
    assert api("PUT", path, json=item_body()).status_code == 200
    assert graph.state.connectors.ignored_values(people, "u1") == []


# -- people settings ------------------------------------------------------------------------

SOURCE = {
    "sourceId": CONNECTION,
    "displayName": "Credly",
    "kind": "Connector",
    "webUrl": "https://www.credly.com/",
    "localizations": [{"languageTag": "de", "displayName": "Credly-Abzeichen"}],
}
SOURCE_PATH = f"/admin/people/profileSources(sourceId='{CONNECTION}')"


def test_profile_source_crud(api: Api, graph: GraphStandIn) -> None:
    created = api("POST", "/admin/people/profileSources", json=SOURCE)
    assert created.status_code == 201
    assert {k: created.json()[k] for k in SOURCE} == SOURCE
    assert created.json()["id"]
    assert_error(api("POST", "/admin/people/profileSources", json=SOURCE), 409, "Conflict")
    assert [s["sourceId"] for s in graph.state.people_settings.profile_sources()] == [CONNECTION]
    assert api("GET", SOURCE_PATH).json()["displayName"] == "Credly"
    patched = api("PATCH", SOURCE_PATH, json={"displayName": "Credly badges"})
    assert patched.status_code == 200
    assert patched.json()["displayName"] == "Credly badges"
    assert_error(api("PATCH", SOURCE_PATH, json={"sourceId": "other"}), 400, "InvalidRequest")
    assert api("DELETE", SOURCE_PATH).status_code == 204
    assert_error(api("GET", SOURCE_PATH), 404, "NotFound")
    assert_error(api("PATCH", SOURCE_PATH, json={"displayName": "x"}), 404, "NotFound")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (without(SOURCE, "sourceId"), "'sourceId' is required"),
        (without(SOURCE, "displayName"), "'displayName' is required"),
        ({**SOURCE, "webUrl": "http://www.credly.com/"}, "https"),
    ],
)
def test_profile_source_rules_are_400(api: Api, body: dict[str, Any], needle: str) -> None:
    error = assert_error(
        api("POST", "/admin/people/profileSources", json=body), 400, "InvalidRequest"
    )
    assert needle in error["message"]


def test_precedence_patch_keeps_the_order_given(api: Api) -> None:
    settings = api("GET", "/admin/people/profilePropertySettings").json()["value"]
    org_wide = next(s for s in settings if s["name"] is None)
    assert org_wide["prioritizedSourceUrls"] == [ENTRA_SOURCE_URL]
    ours = f"https://graph.microsoft.com/v1.0{SOURCE_PATH}"
    urls = [ours, *org_wide["prioritizedSourceUrls"]]
    path = f"/admin/people/profilePropertySettings/{org_wide['id']}"
    patched = api("PATCH", path, json={"prioritizedSourceUrls": urls})
    assert patched.status_code == 200
    assert api("GET", path).json()["prioritizedSourceUrls"] == [ours, ENTRA_SOURCE_URL]
    assert_error(api("PATCH", path, json={"prioritizedSourceUrls": ours}), 400, "InvalidRequest")
    assert_error(api("PATCH", path, json={"prioritizedSourceUrls": [1]}), 400, "InvalidRequest")
    assert_error(api("GET", "/admin/people/profilePropertySettings/nope"), 404, "NotFound")


def test_only_one_org_wide_property_setting(api: Api) -> None:
    path = "/admin/people/profilePropertySettings"
    assert_error(api("POST", path, json={"prioritizedSourceUrls": []}), 409, "Conflict")
    named = api("POST", path, json={"name": "skills", "prioritizedSourceUrls": [ENTRA_SOURCE_URL]})
    assert named.status_code == 201
    assert len(api("GET", path).json()["value"]) == 2


# -- delta ----------------------------------------------------------------------------------


def read_round(api: Api, url: str, page_size: int) -> tuple[list[list[dict[str, Any]]], str]:
    """Follow one delta round: its pages and the deltaLink it ends with."""
    pages: list[list[dict[str, Any]]] = []
    for _ in range(50):
        answer = api("GET", url, headers={"Prefer": f"odata.maxpagesize={page_size}"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["@odata.context"].startswith(api.standin.graph_url)
        pages.append(body["value"])
        if "@odata.deltaLink" in body:
            return pages, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]
    raise AssertionError("the delta round did not end")


def test_delta_first_round_pages_then_reports_changes(api: Api, directory: Directory) -> None:
    first = f"{api.standin.graph_url}/users/delta?$select=id,mail,accountEnabled"
    response = api("GET", first, headers={"Prefer": "odata.maxpagesize=2"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"
    next_link = response.json()["@odata.nextLink"]
    assert next_link.startswith(f"{api.standin.graph_url}/users/delta?")
    assert "$skiptoken=" in next_link
    pages, delta_link = read_round(api, first, 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [u["id"] for p in pages for u in p] == [user(n).id for n in range(1, 6)]
    assert set(pages[0][0]) == {"id", "mail", "accountEnabled"}
    assert "$deltatoken=" in urlsplit(delta_link).query

    directory.upsert(user(2, mail="renamed@contoso.com"))
    directory.upsert(user(8))
    directory.remove(user(4).id)
    pages, delta_link = read_round(api, delta_link, 100)
    assert pages == [
        [
            {"id": user(2).id, "mail": "renamed@contoso.com", "accountEnabled": True},
            {"id": user(4).id, "@removed": {"reason": "deleted"}},
            {"id": user(8).id, "mail": user(8).mail, "accountEnabled": True},
        ]
    ]
    pages, _ = read_round(api, delta_link, 100)
    assert pages == [[]]


def test_delta_tokens_expire_with_410(api: Api, directory: Directory) -> None:
    _, delta_link = read_round(api, f"{api.standin.graph_url}/users/delta", 100)
    directory.expire_delta_tokens()
    error = assert_error(api("GET", delta_link), 410, "SyncStateNotFound")
    assert "without a $deltatoken" in error["message"]
    assert_error(
        api("GET", "/users/delta", params={"$deltatoken": "garbage"}), 410, "SyncStateNotFound"
    )
    assert_error(
        api("GET", "/users/delta", params={"$skiptoken": "garbage"}), 410, "SyncStateNotFound"
    )


def test_delta_first_round_default_page_size_and_properties(api: Api) -> None:
    body = api("GET", "/users/delta").json()
    assert len(body["value"]) == 5
    assert "@odata.deltaLink" in body
    assert "userPrincipalName" in body["value"][0]


def test_delta_does_not_take_top(api: Api) -> None:
    assert_error(api("GET", "/users/delta", params={"$top": "10"}), 400, "Request_UnsupportedQuery")


def test_delta_refuses_an_unknown_select(api: Api) -> None:
    assert_error(api("GET", "/users/delta", params={"$select": "id,shoeSize"}), 400, "BadRequest")


def test_delta_selects_every_property_a_user_has(api: Api) -> None:
    every = list(user(1).to_graph())
    answer = api("GET", "/users/delta", params={"$select": ",".join(every)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"][0] == user(1).to_graph()


def test_delta_deltalink_keeps_the_first_selection(api: Api) -> None:
    pages, delta_link = read_round(api, f"{api.standin.graph_url}/users/delta?$select=mail", 100)
    assert parse_qs(urlsplit(delta_link).query).keys() == {"$deltatoken"}
    assert set(pages[0][0]) == {"id", "mail"}


# -- envelope, beta, knobs ------------------------------------------------------------------


def test_unknown_routes_answer_in_the_odata_envelope(api: Api) -> None:
    assert_error(api("GET", "/nothing/here"), 404, "NotFound")
    assert_error(api("PUT", "/users/delta"), 405, "MethodNotAllowed")
    assert_error(api("POST", "/external/connections", data=b"{not json"), 400, "BadRequest")


def test_beta_serves_the_same_routes(api: Api, graph: GraphStandIn) -> None:
    beta = f"{graph.base_url}/beta"
    created = api(
        "POST",
        f"{beta}/external/connections",
        json={"id": CONNECTION, "name": "C", "contentCategory": "people"},
    )
    assert created.status_code == 201
    patched = api(
        "PATCH",
        f"{beta}/external/connections/{CONNECTION}/schema",
        json=PEOPLE_SCHEMA,
        headers=PREFER_ENUMS,
    )
    assert patched.headers["Location"].startswith(f"{beta}/external/connections/")
    assert api("GET", f"{graph.graph_url}/external/connections/{CONNECTION}").status_code == 200


def test_rate_limit_on_items_answers_429_with_retry_after(
    api: Api, people: str, graph: GraphStandIn
) -> None:
    graph.knobs.set_rate_limit("items", RateLimit(per_second=0.5, burst=2))
    statuses = [
        api("PUT", f"/external/connections/{people}/items/u{n}", json=item_body()) for n in range(3)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert int(statuses[2].headers["Retry-After"]) >= 1
    assert_error(statuses[2], 429, "TooManyRequests")
    assert api("GET", "/users/delta").status_code == 200  # other route classes are not limited
    assert graph.server.requests.count(route_class="items", status=429) == 1


def test_request_log_names_route_classes(api: Api, people: str, graph: GraphStandIn) -> None:
    api("GET", "/users/delta")
    api("GET", SOURCE_PATH)
    classes = {e.route_class for e in graph.server.requests.entries()}
    assert {"connections", "schema", "delta", "profile"} <= classes
