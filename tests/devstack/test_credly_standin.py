"""The Credly stand-in over real loopback HTTP: badges, paging, auth, OAuth, events, knobs."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devstack.credly.records import (
    AuthToken,
    BadgeTemplate,
    CredlyData,
    CredlyUser,
    Event,
    IssuedBadge,
    OAuthApp,
    Organization,
)
from devstack.credly.server import CredlyStandIn
from devstack.standin import Fault, FaultKind, RateLimit

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ORG_A = "0b5c5a8e-1111-4a4a-9a9a-00000000000a"
ORG_B = "0b5c5a8e-2222-4b4b-9b9b-00000000000b"
TOKEN_A = "token-a-read"
TOKEN_A_ADMIN = "token-a-admin"
TOKEN_A_EXPIRED = "token-a-expired"
TOKEN_A_NOREAD = "token-a-noread"
TOKEN_B = "token-b-read"
CLIENT_A, SECRET_A = "client-a", "secret-a"
T_STRINGS, T_OBJECTS = "tmpl-strings", "tmpl-objects"
OBJECT_SKILLS = [{"id": "sk1", "name": "Python", "vanity_slug": "python"}]
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# The issued-badge field set of Credly's documented example (research notes, section 4a).
REAL_BADGE_FIELDS = {
    "id", "state", "public", "locale", "recipient_email", "issued_to", "issued_to_first_name",
    "issued_to_middle_name", "issued_to_last_name", "issuer_earner_id", "issued_at",
    "issued_at_date", "expires_at", "expires_at_date", "created_at", "updated_at",
    "state_updated_at", "accepted_at", "replaces_badge_id", "replacement_badge_id",
    "revocation_reason", "suppress_badge_notification_email", "country", "country_code",
    "state_or_province", "printing_enabled", "print_method", "image", "image_url", "badge_url",
    "user", "created_by", "issuer", "badge_template", "alignments", "evidence",
}  # fmt: skip
REAL_TEMPLATE_FIELDS = {
    "id", "name", "description", "state", "public", "visibility", "level", "type_category",
    "time_to_earn", "cost", "certification", "allow_duplicate_badges", "recipient_type",
    "vanity_slug", "global_activity_url", "criteria_url", "criteria_url_name", "image",
    "image_url", "url", "owner", "skills", "alignments", "badge_template_activities",
    "recommendations", "required_badge_templates", "created_at", "updated_at",
    "state_updated_at",
}  # fmt: skip


class FakeClock:
    """The stand-in's injectable clock."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_badge(badge_id: str, org_id: str = ORG_A, **fields: Any) -> IssuedBadge:
    issued = fields.pop("issued_at", at("2024-01-01T00:00:00"))
    values: dict[str, Any] = {
        "template_id": T_STRINGS,
        "recipient_email": f"{badge_id}@example.com",
        "issued_to_first_name": "Ada",
        "issued_to_last_name": "Lovelace",
        "user_id": None,
        "state": "accepted",
        "public": True,
        "issued_at": issued,
        "expires_at": None,
        "created_at": issued,
        "updated_at": issued,
        "state_updated_at": issued,
    }
    values.update(fields)
    return IssuedBadge(id=badge_id, org_id=org_id, **values)


def build_data() -> CredlyData:
    """Two organisations, their credentials, two templates, two earners; no badges."""
    data = CredlyData()
    year_ago = NOW - timedelta(days=365)
    data.add_org(
        Organization(
            id=ORG_A,
            name="Contoso Academy",
            vanity_slug="contoso-academy",
            created_at=year_ago,
            website_url="https://academy.example.com",
            contact_email="badges@example.com",
            tokens=[
                AuthToken("tok-1", TOKEN_A, year_ago, NOW + timedelta(days=90)),
                AuthToken(
                    "tok-2", TOKEN_A_ADMIN, year_ago, None, write_enabled=True, delete_enabled=True
                ),
                AuthToken("tok-3", TOKEN_A_EXPIRED, year_ago, NOW - timedelta(seconds=1)),
                AuthToken("tok-4", TOKEN_A_NOREAD, year_ago, None, read_enabled=False),
            ],
            oauth_apps=[OAuthApp("app-1", CLIENT_A, SECRET_A)],
        )
    )
    data.add_org(
        Organization(
            id=ORG_B,
            name="Fabrikam",
            vanity_slug="fabrikam",
            created_at=year_ago,
            tokens=[AuthToken("tok-b", TOKEN_B, year_ago, None)],
            oauth_apps=[OAuthApp("app-b", "client-b", "secret-b", scopes=("issued_badges",))],
        )
    )
    for template_id, skills in ((T_STRINGS, ["Python", "SQL"]), (T_OBJECTS, OBJECT_SKILLS)):
        data.add_template(
            BadgeTemplate(
                id=template_id,
                owner_org_id=ORG_A,
                name=f"Template {template_id}",
                description="Earned by doing things",
                certification=template_id == T_STRINGS,
                skills=skills,
                vanity_slug=template_id,
                image_id=f"img-{template_id}",
                created_at=year_ago,
            )
        )
    data.add_user(CredlyUser("u1", "Alice.Account@example.com", "Alice", "Account", "alice"))
    data.add_user(CredlyUser("u2", "bob@example.com", "Bob", "Builder", "bob"))
    return data


def add_filter_badges(data: CredlyData) -> None:
    """Five badges of org A made to tell the filters and sorts apart (insertion = issue order)."""
    data.put_badge(
        make_badge(
            "b0",
            recipient_email="One@Example.com",
            user_id="u1",
            updated_at=at("2024-01-05T00:00:00"),
            issuer_earner_id="emp-0",
        )
    )
    data.put_badge(
        make_badge(
            "b1",
            state="pending",
            template_id=T_OBJECTS,
            recipient_email="two@example.com",
            issued_at=at("2024-01-02T00:00:00"),
            updated_at=at("2024-01-05T00:00:00"),
        )
    )
    data.put_badge(
        make_badge(
            "b2",
            public=False,
            recipient_email="three@example.com",
            user_id="u2",
            issued_at=at("2024-02-01T00:00:00"),
            updated_at=at("2024-02-10T08:30:00"),
        )
    )
    data.put_badge(
        make_badge(
            "b3",
            state="revoked",
            template_id=T_OBJECTS,
            recipient_email="one@example.com",
            issued_at=at("2024-03-01T00:00:00"),
            updated_at=at("2024-03-01T23:59:59.500000"),
        )
    )
    data.put_badge(make_badge("b4", state="rejected", recipient_email="four@example.com",
                              issued_at=at("2023-12-31T00:00:00"),
                              updated_at=at("2024-03-02T00:00:00")))  # fmt: skip


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data() -> CredlyData:
    built = build_data()
    add_filter_badges(built)
    return built


@pytest.fixture
def standin(data: CredlyData, clock: FakeClock) -> Iterator[CredlyStandIn]:
    with CredlyStandIn(data, clock=clock) as running:
        yield running


@pytest.fixture
def standin_with_badges(clock: FakeClock) -> Iterator[Callable[[int], CredlyStandIn]]:
    """Start a stand-in whose org A holds `n` badges b000.. (all issued at distinct times)."""
    with ExitStack() as stack:

        def start(n: int) -> CredlyStandIn:
            data = build_data()
            for i in range(n):
                issued = at("2024-01-01T00:00:00") + timedelta(minutes=i)
                state = "accepted" if i % 2 == 0 else "pending"
                data.put_badge(make_badge(f"b{i:03d}", issued_at=issued, state=state))
            return stack.enter_context(CredlyStandIn(data, clock=clock))

        yield start


def get(
    standin: CredlyStandIn, path: str, token: str | None = TOKEN_A, **params: str
) -> requests.Response:
    auth = (token, "") if token is not None else None
    return requests.get(f"{standin.api_url}{path}", params=params, auth=auth, timeout=5)


def badge_ids(answer: requests.Response) -> list[str]:
    return [b["id"] for b in answer.json()["data"]]


def assert_error(answer: requests.Response, status: int, fragment: str = "") -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"data", "metadata"}
    assert body["metadata"] == {}
    assert fragment in body["data"]["message"]


def oauth(standin: CredlyStandIn, **fields: str) -> requests.Response:
    body = {"grant_type": "client_credentials", "client_id": CLIENT_A, "client_secret": SECRET_A}
    body.update(fields)
    return requests.post(standin.token_url, data=body, timeout=5)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- list envelope and paging ---------------------------------------------------------------


def test_badge_list_envelope_and_metadata(standin: CredlyStandIn) -> None:
    answer = get(standin, f"/organizations/{ORG_A}/badges")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"data", "metadata"}
    assert body["metadata"] == {
        "count": 5,
        "current_page": 1,
        "total_count": 5,
        "total_pages": 1,
        "per": 50,
        "previous_page_url": None,
        "next_page_url": None,
    }
    assert badge_ids(answer) == ["b0", "b1", "b2", "b3", "b4"]


@pytest.mark.parametrize(
    ("n", "pages", "last_count"), [(0, 0, 0), (1, 1, 1), (50, 1, 50), (51, 2, 1), (101, 3, 1)]
)
def test_paging_arithmetic_and_followable_absolute_urls(
    standin_with_badges: Callable[[int], CredlyStandIn], n: int, pages: int, last_count: int
) -> None:
    standin = standin_with_badges(n)
    first = get(standin, f"/organizations/{ORG_A}/badges").json()
    assert first["metadata"]["total_count"] == n
    assert first["metadata"]["total_pages"] == pages
    assert first["metadata"]["previous_page_url"] is None
    seen: list[str] = []
    body = first
    while True:
        meta = body["metadata"]
        seen += [b["id"] for b in body["data"]]
        assert meta["count"] == len(body["data"])
        if meta["next_page_url"] is None:
            break
        assert meta["next_page_url"].startswith(f"{standin.api_url}/organizations/{ORG_A}/badges?")
        body = requests.get(meta["next_page_url"], auth=(TOKEN_A, ""), timeout=5).json()
        assert body["metadata"]["previous_page_url"] is not None
    assert seen == [f"b{i:03d}" for i in range(n)]
    assert body["metadata"]["count"] == last_count
    assert body["metadata"]["current_page"] == max(pages, 1)


def test_page_urls_carry_filter_and_sort_and_walk_the_same_selection(
    standin_with_badges: Callable[[int], CredlyStandIn],
) -> None:
    standin = standin_with_badges(120)
    params = {"filter": "state::accepted|updated_at_min::2024-01-01T00:10:00Z", "sort": "issued_at"}
    answer = get(standin, f"/organizations/{ORG_A}/badges", **params)
    meta = answer.json()["metadata"]
    assert meta["total_count"] == 55
    next_url = meta["next_page_url"]
    assert "filter=state%3A%3Aaccepted%7Cupdated_at_min%3A%3A2024-01-01T00%3A10%3A00Z" in next_url
    assert parse_qs(urlsplit(next_url).query) == {
        "page": ["2"],
        **{k: [v] for k, v in params.items()},
    }
    second = requests.get(next_url, auth=(TOKEN_A, ""), timeout=5).json()
    expected = [f"b{i:03d}" for i in range(10, 119, 2)]
    assert badge_ids(answer) + [b["id"] for b in second["data"]] == expected
    assert second["metadata"]["next_page_url"] is None
    prev_query = parse_qs(urlsplit(second["metadata"]["previous_page_url"]).query)
    assert prev_query["page"] == ["1"]
    assert prev_query["sort"] == ["issued_at"]


def test_page_past_the_end_is_empty_with_correct_metadata(
    standin_with_badges: Callable[[int], CredlyStandIn],
) -> None:
    standin = standin_with_badges(51)
    body = get(standin, f"/organizations/{ORG_A}/badges", page="5").json()
    assert body["data"] == []
    meta = body["metadata"]
    assert (meta["count"], meta["current_page"], meta["total_count"], meta["total_pages"]) == (
        0,
        5,
        51,
        2,
    )
    assert meta["next_page_url"] is None


def test_page_url_base_is_overridable(standin: CredlyStandIn) -> None:
    standin.page_url_base = "http://elsewhere.invalid:8443"
    standin.data.put_badge(make_badge("more", issued_at=at("2024-04-01T00:00:00")))
    for i in range(60):
        standin.data.put_badge(make_badge(f"x{i}"))
    meta = get(standin, f"/organizations/{ORG_A}/badges").json()["metadata"]
    assert meta["next_page_url"] == (
        f"http://elsewhere.invalid:8443/v1/organizations/{ORG_A}/badges?page=2"
    )


# -- filters and sorts over HTTP ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("state::accepted", ["b0", "b2"]),
        ("state::pending,rejected", ["b1", "b4"]),
        ("issuer_earner_id::emp-0", ["b0"]),
        ("updated_at_min::2024-02-10", ["b2", "b3", "b4"]),
        ("updated_at_min::2024-02-10T08:30:00.000Z", ["b2", "b3", "b4"]),
        ("updated_at_min::2024-02-10T08:30:01Z", ["b3", "b4"]),
    ],
)
def test_filter_keys_over_http(standin: CredlyStandIn, raw: str, expected: list[str]) -> None:
    answer = get(standin, f"/organizations/{ORG_A}/badges", filter=raw)
    assert answer.status_code == 200, answer.text
    assert badge_ids(answer) == expected
    assert answer.json()["metadata"]["total_count"] == len(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("issued_at", ["b4", "b0", "b1", "b2", "b3"]),
        ("created_at", ["b4", "b0", "b1", "b2", "b3"]),
        ("", ["b0", "b1", "b2", "b3", "b4"]),
    ],
)
def test_sort_keys_over_http(standin: CredlyStandIn, raw: str, expected: list[str]) -> None:
    assert badge_ids(get(standin, f"/organizations/{ORG_A}/badges", sort=raw)) == expected


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"page": "0"}, "page must be a positive integer"),
        ({"page": "two"}, "page must be a positive integer"),
        ({"filter": "colour::red"}, "unknown filter key 'colour'"),
        ({"filter": "state::shiny"}, "unknown value"),
        ({"filter": "updated_at_min::last-tuesday"}, "not a date"),
        ({"sort": "name"}, "unknown sort key 'name'"),
        ({"sort": "-issued_at"}, "unknown sort key '-issued_at'"),
    ],
)
def test_bad_query_parameters_answer_422(
    standin: CredlyStandIn, params: dict[str, str], fragment: str
) -> None:
    assert_error(get(standin, f"/organizations/{ORG_A}/badges", **params), 422, fragment)


def test_sorted_lists_of_large_orgs_are_cached_and_invalidated(standin: CredlyStandIn) -> None:
    standin.selector.cache_min_badges = 1
    path = f"/organizations/{ORG_A}/badges"
    assert badge_ids(get(standin, path, sort="issued_at"))[-1] == "b3"
    standin.data.put_badge(make_badge("late", issued_at=at("2024-05-01T00:00:00")))
    assert badge_ids(get(standin, path, sort="issued_at"))[-1] == "late"
    badge = standin.data.badge(ORG_A, "b4")
    assert badge is not None
    badge.issued_at = at("2024-05-02T00:00:00")
    standin.data.touch()
    assert badge_ids(get(standin, path, sort="issued_at"))[-1] == "b4"


# -- single resources -----------------------------------------------------------------------


def test_single_badge_and_real_field_set(standin: CredlyStandIn) -> None:
    answer = get(standin, f"/organizations/{ORG_A}/badges/b0")
    assert answer.status_code == 200
    badge = answer.json()["data"]
    assert set(badge) >= REAL_BADGE_FIELDS
    assert {"x_new_field", "translate_metadata"} <= set(badge)
    assert set(badge["badge_template"]) >= REAL_TEMPLATE_FIELDS
    for name in ("issued_at", "created_at", "updated_at", "state_updated_at"):
        assert TIMESTAMP.match(badge[name]), badge[name]
    assert badge["issued_at"] == "2024-01-01T00:00:00.000Z"
    assert badge["issued_at_date"] == "2024-01-01"
    assert badge["expires_at"] is None
    assert badge["expires_at_date"] is None
    assert badge["accepted_at"] is None
    assert badge["issued_to"] == "Ada Lovelace"
    assert badge["recipient_email"] == "One@Example.com"
    assert badge["badge_url"] == "https://www.credly.com/badges/b0"
    assert badge["image_url"] == f"https://images.credly.com/images/img-{T_STRINGS}/image.png"
    assert badge["image"] == {"id": f"img-{T_STRINGS}", "url": badge["image_url"]}
    assert badge["user"]["email"] == "Alice.Account@example.com"
    assert badge["user"]["url"] == "https://www.credly.com/users/alice"
    assert badge["created_by"]["url"] == f"https://api.credly.com/v1/organizations/{ORG_A}"
    [entity] = badge["issuer"]["entities"]
    assert entity["primary"] is True
    assert entity["entity"]["id"] == ORG_A
    assert badge["issuer"]["summary"] == "issued by Contoso Academy"
    template = badge["badge_template"]
    assert template["skills"] == ["Python", "SQL"]
    assert template["certification"] is True
    assert template["owner"]["id"] == ORG_A
    assert template["url"] == "https://www.credly.com/org/contoso-academy/badge/tmpl-strings"


def test_badge_without_user_and_with_object_skills(standin: CredlyStandIn) -> None:
    badge = get(standin, f"/organizations/{ORG_A}/badges/b1").json()["data"]
    assert badge["user"] is None
    assert badge["badge_template"]["skills"] == OBJECT_SKILLS


def test_several_issuers_first_is_primary(standin: CredlyStandIn) -> None:
    standin.data.put_badge(make_badge("multi", issuer_org_ids=(ORG_B, ORG_A)))
    issuer = get(standin, f"/organizations/{ORG_A}/badges/multi").json()["data"]["issuer"]
    assert [(e["entity"]["id"], e["primary"]) for e in issuer["entities"]] == [
        (ORG_B, True),
        (ORG_A, False),
    ]
    assert issuer["summary"] == "issued by Fabrikam and Contoso Academy"


def test_overrides_replace_rendered_fields_including_with_null(standin: CredlyStandIn) -> None:
    overrides = {"issued_at": None, "state": "exploded", "recipient_email": 42, "extra": [1]}
    standin.data.put_badge(make_badge("hostile", user_id="u1", overrides=overrides))
    badge = get(standin, f"/organizations/{ORG_A}/badges/hostile").json()["data"]
    assert {k: badge[k] for k in overrides} == overrides
    assert badge["user"]["id"] == "u1"


def test_organization(standin: CredlyStandIn) -> None:
    org = get(standin, f"/organizations/{ORG_A}").json()["data"]
    assert org["id"] == ORG_A
    assert org["name"] == "Contoso Academy"
    assert org["vanity_url"] == "https://www.credly.com/org/contoso-academy"
    assert org["website_url"] == "https://academy.example.com"
    assert {"webhook_url", "contact_email", "vanity_slug", "photo_url", "verified"} <= set(org)
    assert TIMESTAMP.match(org["created_at"])


def test_authorization_tokens_show_expiry_and_respect_token_rights(standin: CredlyStandIn) -> None:
    path = f"/organizations/{ORG_A}/authorization_tokens"
    read_only = get(standin, path).json()["data"]
    assert {t["id"] for t in read_only} == {"tok-1", "tok-3", "tok-4"}
    mine = next(t for t in read_only if t["token"] == TOKEN_A)
    assert mine["expires_at"] == "2024-08-30T12:00:00.000Z"
    assert mine["owner"] == {
        "type": "Organization",
        "id": ORG_A,
        "name": "Contoso Academy",
        "url": f"https://api.credly.com/v1/organizations/{ORG_A}",
    }
    assert mine["read_enabled"] is True
    assert mine["write_enabled"] is False
    every = get(standin, path, token=TOKEN_A_ADMIN).json()["data"]
    assert len(every) == 4


def test_event_returns_the_full_badge(standin: CredlyStandIn) -> None:
    standin.data.add_event(Event("ev-1", ORG_A, "badge.state.changed", NOW, badge_id="b2"))
    answer = get(standin, f"/organizations/{ORG_A}/events/ev-1")
    assert answer.status_code == 200
    event = answer.json()["data"]
    assert event["id"] == "ev-1"
    assert event["organization_id"] == ORG_A
    assert event["event_type"] == "badge.state.changed"
    assert event["occurred_at"] == "2024-06-01T12:00:00.000Z"
    assert set(event["badge"]) >= REAL_BADGE_FIELDS
    assert event["badge"]["id"] == "b2"


def test_event_of_a_deleted_badge_and_of_no_badge(standin: CredlyStandIn) -> None:
    standin.data.add_event(Event("ev-del", ORG_A, "badge.deleted", NOW, badge_id="b4"))
    standin.data.add_event(Event("ev-tpl", ORG_A, "badge_template.created", NOW))
    assert standin.data.remove_badge(ORG_A, "b4") is not None
    deleted = get(standin, f"/organizations/{ORG_A}/events/ev-del").json()["data"]
    assert deleted["badge"] == {"id": "b4"}
    assert get(standin, f"/organizations/{ORG_A}/events/ev-tpl").json()["data"]["badge"] is None


# -- authentication and access --------------------------------------------------------------


@pytest.mark.parametrize("raw", [f"{TOKEN_A}:", TOKEN_A])
def test_basic_auth_with_and_without_colon(standin: CredlyStandIn, raw: str) -> None:
    header = "Basic " + base64.b64encode(raw.encode()).decode()
    answer = requests.get(
        f"{standin.api_url}/organizations/{ORG_A}/badges",
        headers={"Authorization": header},
        timeout=5,
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("auth", "fragment"),
    [
        (None, "authentication required"),
        (("wrong-token", ""), "invalid authorization token"),
        ((TOKEN_A_EXPIRED, ""), "expired"),
        ((TOKEN_A, "a-password"), "password must be empty"),
    ],
)
def test_missing_unknown_expired_or_passworded_credentials_answer_401(
    standin: CredlyStandIn, auth: tuple[str, str] | None, fragment: str
) -> None:
    answer = requests.get(f"{standin.api_url}/organizations/{ORG_A}/badges", auth=auth, timeout=5)
    assert_error(answer, 401, fragment)


def test_malformed_authorization_header_answers_401(standin: CredlyStandIn) -> None:
    for header in ("Basic !!!not-base64", "Token abc", "Bearer"):
        answer = requests.get(
            f"{standin.api_url}/organizations/{ORG_A}", headers={"Authorization": header}, timeout=5
        )
        assert_error(answer, 401)


def test_token_expires_by_the_injected_clock(standin: CredlyStandIn, clock: FakeClock) -> None:
    assert get(standin, f"/organizations/{ORG_A}").status_code == 200
    clock.advance(timedelta(days=90).total_seconds())
    assert_error(get(standin, f"/organizations/{ORG_A}"), 401, "expired")


def test_other_orgs_token_or_unreadable_token_answers_403(standin: CredlyStandIn) -> None:
    assert_error(get(standin, f"/organizations/{ORG_A}/badges", token=TOKEN_B), 403)
    assert_error(get(standin, f"/organizations/{ORG_A}/badges/b0", token=TOKEN_B), 403)
    assert_error(get(standin, f"/organizations/{ORG_A}", token=TOKEN_A_NOREAD), 403, "read")


def test_unknown_org_badge_event_or_path_answers_404(standin: CredlyStandIn) -> None:
    assert_error(get(standin, "/organizations/no-such-org/badges"), 404, "no-such-org")
    assert_error(get(standin, f"/organizations/{ORG_A}/badges/nope"), 404, "nope")
    assert_error(get(standin, f"/organizations/{ORG_A}/events/nope"), 404, "nope")
    assert_error(get(standin, f"/organizations/{ORG_A}/badges/b0/extra"), 404)
    standin.data.put_badge(make_badge("of-b", org_id=ORG_B))
    assert_error(get(standin, f"/organizations/{ORG_A}/badges/of-b"), 404)


# -- OAuth ----------------------------------------------------------------------------------


def test_oauth_token_from_form_body_and_bearer_use(standin: CredlyStandIn) -> None:
    answer = oauth(standin)
    assert answer.status_code == 200
    token = answer.json()
    assert set(token) == {"access_token", "token_type", "expires_in", "scope", "created_at"}
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 7200
    assert token["scope"] == "issued_badges badge_templates events"
    assert token["created_at"] == int(NOW.timestamp())
    assert answer.headers["Cache-Control"] == "no-store"
    listed = requests.get(
        f"{standin.api_url}/organizations/{ORG_A}/badges",
        headers=bearer(token["access_token"]),
        timeout=5,
    )
    assert listed.status_code == 200
    assert badge_ids(listed)[0] == "b0"


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"client_id": ""}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"scope": "issued_badges workforce"}, 400, "invalid_scope"),
    ],
)
def test_oauth_errors_use_the_oauth_shape(
    standin: CredlyStandIn, fields: dict[str, str], status: int, error: str
) -> None:
    answer = oauth(standin, **fields)
    assert answer.status_code == status
    body = answer.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error


def test_oauth_scope_subset_limits_what_the_bearer_may_read(standin: CredlyStandIn) -> None:
    standin.data.add_event(Event("ev-1", ORG_A, "badge.created", NOW, badge_id="b0"))
    token = oauth(standin, scope="issued_badges").json()
    assert token["scope"] == "issued_badges"
    headers = bearer(token["access_token"])
    base = f"{standin.api_url}/organizations/{ORG_A}"
    assert requests.get(f"{base}/badges/b0", headers=headers, timeout=5).status_code == 200
    assert requests.get(base, headers=headers, timeout=5).status_code == 200
    assert_error(requests.get(f"{base}/events/ev-1", headers=headers, timeout=5), 403, "events")
    assert_error(
        requests.get(f"{base}/authorization_tokens", headers=headers, timeout=5), 403, "scope"
    )
    events = oauth(standin, scope="events").json()["access_token"]
    assert requests.get(f"{base}/events/ev-1", headers=bearer(events), timeout=5).ok


def test_bearer_of_another_org_answers_403(standin: CredlyStandIn) -> None:
    token = oauth(standin, client_id="client-b", client_secret="secret-b").json()
    answer = requests.get(
        f"{standin.api_url}/organizations/{ORG_A}/badges",
        headers=bearer(token["access_token"]),
        timeout=5,
    )
    assert_error(answer, 403)


def test_bearer_expires_by_the_injected_clock(data: CredlyData, clock: FakeClock) -> None:
    with CredlyStandIn(data, clock=clock) as standin:
        standin.token_lifetime_s = 60
        token = oauth(standin).json()
        assert token["expires_in"] == 60
        url = f"{standin.api_url}/organizations/{ORG_A}"
        clock.advance(59)
        assert requests.get(url, headers=bearer(token["access_token"]), timeout=5).ok
        clock.advance(1)
        answer = requests.get(url, headers=bearer(token["access_token"]), timeout=5)
        assert_error(answer, 401, "expired")


def test_revoking_all_access_tokens_answers_401_then_a_new_token_works(
    standin: CredlyStandIn,
) -> None:
    tokens = [oauth(standin).json()["access_token"] for _ in range(2)]
    url = f"{standin.api_url}/organizations/{ORG_A}/badges"
    assert standin.revoke_access_tokens() == 2
    for token in tokens:
        assert_error(requests.get(url, headers=bearer(token), timeout=5), 401, "revoked")
    fresh = oauth(standin).json()["access_token"]
    assert requests.get(url, headers=bearer(fresh), timeout=5).status_code == 200


# -- knobs and request log ------------------------------------------------------------------


def test_scripted_503_on_badges_then_success(standin: CredlyStandIn) -> None:
    fault = standin.api.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="badges", status=503, retry_after=1)
    )
    url = f"/organizations/{ORG_A}/badges"
    first = get(standin, url)
    assert_error(first, 503, "scripted fault")
    assert first.headers["Retry-After"] == "1"
    assert get(standin, url).status_code == 200
    assert fault.fired == 1


def test_rate_limit_answers_429_with_retry_after(standin: CredlyStandIn) -> None:
    standin.api.knobs.set_rate_limit("badges", RateLimit(per_second=2))
    url = f"/organizations/{ORG_A}/badges"
    statuses = [get(standin, url).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = get(standin, url)
    assert_error(throttled, 429)
    assert int(throttled.headers["Retry-After"]) >= 1
    assert get(standin, f"/organizations/{ORG_A}").status_code == 200


def test_oauth_web_server_has_its_own_knobs_and_error_shape(standin: CredlyStandIn) -> None:
    standin.web.knobs.add_fault(Fault(FaultKind.STATUS, route_class="oauth", status=503))
    answer = oauth(standin)
    assert answer.status_code == 503
    assert answer.json()["error"] == "temporarily_unavailable"
    assert oauth(standin).status_code == 200


def test_request_log_records_route_classes(standin: CredlyStandIn) -> None:
    standin.data.add_event(Event("ev-1", ORG_A, "badge.created", NOW, badge_id="b0"))
    base = f"/organizations/{ORG_A}"
    for path in (base, f"{base}/badges", f"{base}/badges/b0",
                 f"{base}/events/ev-1", f"{base}/authorization_tokens"):  # fmt: skip
        assert get(standin, path).status_code == 200
    oauth(standin)
    assert [e.route_class for e in standin.api.requests.entries()] == [
        "organization",
        "badges",
        "badge",
        "events",
        "tokens",
    ]
    assert [(e.route_class, e.status) for e in standin.web.requests.entries()] == [("oauth", 200)]
    assert standin.api.internal_errors == []
