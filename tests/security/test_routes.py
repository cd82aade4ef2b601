"""Hostile requests to every HTTP route: a 4xx with a clear message, nothing queued or changed.

Each request goes to the bound function itself over a crawled world, and the whole storage
state (every table row with its ETag, every queue's depth) and Graph's write counts are the
same after the request as before the module's first one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from credly_connector.pipeline.events import decode_event
from credly_connector.pipeline.queues import EVENTS
from tests.security.conftest import OVERRIDDEN_EMAIL, Bound

MEGABYTE_PLUS = 1024 * 1024 + 1
NOTIFICATION = {
    "id": "4f6c2a8e-1b3d-4e5f-9a7b-8c9d0e1f2a3b",
    "event_type": "badge.state.changed",
    "occurred_at": "2026-05-04T10:11:12Z",
}


@dataclass(frozen=True)
class Case:
    """One hostile request and the answer it must get.

    `{org}`, `{crawl}` and `{upn}` in the body and route values stand for the world's
    organisation, its crawl and a real directory user (so an accepted request would change
    something).
    """

    id: str
    function: str
    method: str
    status: int
    says: str
    body: bytes | Any = b""
    route: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def _deep(key: str, depth: int) -> bytes:
    return b'{"' + key.encode() + b'": ' + b"[" * depth + b"]" * depth + b"}"


def _huge(key: str, size: int) -> bytes:
    return b'{"' + key.encode() + b'": "' + b"x" * size + b'"}'


BIG_NUMBER = b'{"k": 1' + b"0" * 5000 + b"}"
INVALID, OBJECT = "not valid JSON", "must be a JSON object"


def _body_cases(function: str, method: str, key: str, route: dict[str, str]) -> list[Case]:
    """Malformed JSON, bad bytes, deep nesting, huge numbers, arrays and oversized bodies."""
    bodies = [
        ("malformed", 400, INVALID, b'{"' + key.encode()),
        ("not-utf8", 400, INVALID, b'{"k": "\xff\xfe"}'),
        ("nested", 400, "nested too deeply", _deep(key, 25_000)),
        ("big-number", 400, INVALID, BIG_NUMBER),
        ("array", 400, OBJECT, b"[1, 2]"),
        ("null", 400, OBJECT, b"null"),
        ("over-1MB", 413, "larger than", _huge(key, MEGABYTE_PLUS)),
    ]
    name = function.removeprefix("ops_")
    return [
        Case(f"{name}-{what}", function, method, status, says, body, route)
        for what, status, says, body in bodies
    ]


def _crawl(name: str, status: int, says: str, body: Any) -> Case:
    return Case(f"crawls-{name}", "ops_crawls_start", "POST", status, says, body)


def _setup(name: str, says: str, body: Any) -> Case:
    return Case(f"setup-{name}", "ops_setup", "POST", 400, says, body)


def _override(name: str, status: int, says: str, body: Any) -> Case:
    route = {"email": "nobody.yet@example.org"}
    return Case(f"override-{name}", "ops_identity_overrides_put", "PUT", status, says, body, route)


def _event(name: str, status: int, says: str, **changes: Any) -> Case:
    body = {**NOTIFICATION, "organization_id": "{org}", **changes}
    return Case(f"events-{name}", "credly_events", "POST", status, says, body)


UPN_BODY = {"userPrincipalName": "{upn}"}
KIND, DRY_RUN, ORG = '"kind" must be one of', '"dryRun" must be true or false', "must be a string"
WAIT, UPN = '"waitSeconds" must be a number', '"userPrincipalName" is required'
STRINGS, ID = "must be non-empty strings", "id may only hold"

BODY_CASES = [
    *_body_cases("ops_crawls_start", "POST", "kind", {}),
    _crawl("kind-number", 400, KIND, {"kind": 7}),
    _crawl("kind-list", 400, KIND, {"kind": ["full"]}),
    _crawl("dry-run-text", 400, DRY_RUN, {"dryRun": "yes"}),
    _crawl("org-list", 400, ORG, {"organizationId": ["{org}"]}),
    _crawl("org-object", 400, ORG, {"organizationId": {"id": "{org}"}}),
    _crawl("org-unknown", 404, "is not configured", {"organizationId": "../{org}"}),
    _crawl("unknown-field", 400, "Unknown field(s): hook", {"kind": "full", "hook": "http://x/"}),
    *_body_cases("ops_setup", "POST", "waitSeconds", {}),
    _setup("wait-text", WAIT, {"waitSeconds": "10"}),
    _setup("wait-bool", WAIT, {"waitSeconds": True}),
    _setup("wait-nan", WAIT, b'{"waitSeconds": NaN}'),
    _setup("wait-infinite", WAIT, b'{"waitSeconds": 1e999}'),
    _setup("unknown-field", "Unknown field(s): connectionId", {"connectionId": "evil"}),
    *_body_cases("ops_identity_overrides_put", "PUT", "userPrincipalName", {"email": "a@b.org"}),
    _override("upn-number", 400, UPN, {"userPrincipalName": 7}),
    _override("upn-list", 400, UPN, {"userPrincipalName": ["{upn}"]}),
    _override("upn-null", 400, UPN, {"userPrincipalName": None}),
    _override("upn-long", 400, UPN, {"userPrincipalName": "a" * 300 + "@contoso.com"}),
    _override("upn-surrogate", 422, "No user", b'{"userPrincipalName": "\\ud800@contoso.com"}'),
    _override("unknown-field", 400, "Unknown field(s): setBy", {**UPN_BODY, "setBy": "admin"}),
    Case(
        "retry-over-1MB",
        "ops_crawls_retry",
        "POST",
        409,
        "only a failed crawl can be retried",
        _huge("x", MEGABYTE_PLUS),
        {"crawl_id": "{crawl}"},
    ),
]

WEBHOOK_CASES = [
    *_body_cases("credly_events", "POST", "id", {}),
    _event("id-number", 400, STRINGS, id=42),
    _event("org-object", 400, STRINGS, organization_id={"id": "{org}"}),
    _event("type-list", 400, STRINGS, event_type=["badge.created"]),
    _event("type-newline", 400, "event_type may only hold", event_type="badge.created\nERROR x"),
    _event("time-odd", 400, "occurred_at must be an ISO-8601", occurred_at="yesterday"),
    _event("id-traversal", 400, ID, id="../../badges/x"),
    _event("id-encoded", 400, ID, id="%2e%2e%2fbadges"),
    Case("events-missing-fields", "credly_events", "POST", 400, "lacks", {"id": "x"}),
]

TRAVERSALS = [
    "../x",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc@contoso.com",
    "..%252f..%252fx@contoso.com",
    "..\\..\\windows@contoso.com",
    f"{OVERRIDDEN_EMAIL}/../../people/x@contoso.com",
    f"{OVERRIDDEN_EMAIL}/..",
    f"..%2F{OVERRIDDEN_EMAIL}",
    f"{OVERRIDDEN_EMAIL}%00",
    f"{OVERRIDDEN_EMAIL}\x00",
    "x/y@contoso.com",
    "\u2024\u2024/x@contoso.com",
    "....//....//x@contoso.com",
    f"{OVERRIDDEN_EMAIL}?x=1",
    f"{OVERRIDDEN_EMAIL}#frag",
]
EMAIL_FUNCTIONS = [
    ("ops_people_diagnose", "GET", b""),
    ("ops_identity_overrides_put", "PUT", UPN_BODY),
    ("ops_identity_overrides_delete", "DELETE", b""),
]
EMAIL_CASES = [
    Case(f"{function}-{n}", function, method, 400, "is not an email address", body, {"email": raw})
    for function, method, body in EMAIL_FUNCTIONS
    for n, raw in enumerate(TRAVERSALS)
]

CRAWL_IDS = [
    "../../etc/passwd",
    "..%2F..%2Fcrawls",
    "{crawl}\n",
    "{crawl}/../x",
    "{crawl}' or PartitionKey ne '",
    "",
]
CRAWL_FUNCTIONS = [
    ("ops_crawls_status", "GET"),
    ("ops_crawls_retry", "POST"),
    ("ops_crawls_preview", "GET"),
]
CRAWL_ID_CASES = [
    Case(f"{function}-{n}", function, method, 400, "A crawl id is 19", route={"crawl_id": raw})
    for function, method in CRAWL_FUNCTIONS
    for n, raw in enumerate(CRAWL_IDS)
]

LIMITS = ["-1", "0", "abc", "1e3", "9" * 40, "", "201"]
DAYS = ["-1", "1e3", "../x", "\u0663", "99999999"]
QUERY_CASES = [
    *(
        Case(f"limit-{n}", "ops_crawls_list", "GET", 400, '"limit" must be', params={"limit": raw})
        for n, raw in enumerate(LIMITS)
    ),
    *(
        Case(
            f"days-{n}",
            "ops_reports_badges",
            "GET",
            400,
            '"expiringWithin" must be',
            params={"expiringWithin": raw},
        )
        for n, raw in enumerate(DAYS)
    ),
]

ALL_CASES = BODY_CASES + WEBHOOK_CASES + EMAIL_CASES + CRAWL_ID_CASES + QUERY_CASES


def _fill(value: Any, names: dict[str, str]) -> Any:
    """`value` with the `{org}`, `{crawl}` and `{upn}` placeholders of its strings filled in."""
    if isinstance(value, str):
        for key, name in names.items():
            value = value.replace("{" + key + "}", name)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


@pytest.fixture(scope="module")
def before(bound: Bound) -> dict[str, Any]:
    """The state every hostile request must leave as it is."""
    return bound.state()


@pytest.fixture(scope="module")
def names(bound: Bound) -> dict[str, str]:
    (crawl,) = bound.ctx.crawls.latest(5)
    return {
        "org": bound.pipeline.stack.organization_id,
        "crawl": crawl.crawl_id,
        "upn": bound.pipeline.world.directory.users()[0].user_principal_name,
    }


def _answer_problem(bound: Bound, case: Case, names: dict[str, str]) -> str | None:
    """What is wrong with the answer to `case`, or None when it is the expected 4xx."""
    body = case.body if isinstance(case.body, bytes) else _fill(case.body, names)
    response = bound.call(
        case.function,
        case.method,
        body=body,
        route=_fill(case.route, names),
        params=case.params,
        path="credly/events" if case.function == "credly_events" else "ops",
    )
    text = response.get_body()[:300]
    if response.status_code != case.status or response.mimetype != "application/json":
        return f"{case.id}: {response.status_code} {response.mimetype} {text!r}"
    error = json.loads(response.get_body())["error"]
    if case.says not in error["message"] or error["status"] != case.status:
        return f"{case.id}: message {error['message']!r} lacks {case.says!r}"
    return None


# One test per function: the storage state is compared once after all of its requests.
FUNCTIONS = sorted({case.function for case in ALL_CASES})


@pytest.mark.parametrize("function", FUNCTIONS)
def test_hostile_requests_get_a_4xx_and_change_nothing(
    bound: Bound, before: dict[str, Any], names: dict[str, str], function: str
) -> None:
    cases = [case for case in ALL_CASES if case.function == function]

    problems = [_answer_problem(bound, case, names) for case in cases]

    assert [problem for problem in problems if problem] == []
    assert bound.state() == before


def test_a_notification_with_unknown_fields_is_queued_without_them(
    bound: Bound, before: dict[str, Any], names: dict[str, str]
) -> None:
    # Deliberately not a 4xx: Credly may add attributes, and it retries anything but a 200
    # for days. Nothing of the extra fields travels on: only the ids are queued.
    body = {
        **NOTIFICATION,
        "organization_id": names["org"],
        "badge": {"id": "forged", "recipient_email": "attacker@example.com"},
        "callback": "http://203.0.113.9/",
    }
    queue = bound.ctx.queues.client(EVENTS)
    try:
        response = bound.call("credly_events", "POST", body=body, path="credly/events")

        assert response.status_code == 200
        (message,) = queue.peek_messages(max_messages=32)
        queued = decode_event(message.content)
        assert (queued.event_id, queued.organization_id) == (NOTIFICATION["id"], names["org"])
        assert "forged" not in message.content
        assert "attacker" not in message.content
        assert "203.0.113.9" not in message.content
    finally:
        queue.clear_messages()
    assert bound.state() == before


def test_the_actor_header_is_stored_and_logged_as_one_line(
    bound: Bound, names: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # Runs last in the module: it sets an override, then removes it again.
    email = "forging.actor@example.org"
    headers = {"x-ms-client-principal-name": "admin@contoso.com\nERROR forged line\r\x1b[2J"}
    caplog.set_level(logging.INFO, logger="credly_connector")

    put = bound.call(
        "ops_identity_overrides_put",
        "PUT",
        body={"userPrincipalName": names["upn"]},
        route={"email": email},
        headers=headers,
    )
    removed = bound.call("ops_identity_overrides_delete", "DELETE", route={"email": email})

    assert put.status_code == 201, put.get_body()
    set_by = json.loads(put.get_body())["override"]["setBy"]
    assert set_by == "admin@contoso.com ERROR forged line [2J"
    assert removed.status_code == 200
    logged = [r.getMessage() for r in caplog.records if "override set by" in r.getMessage()]
    assert logged == [f"identity override set by {set_by}"]
    assert bound.ctx.identity_overrides.get(email) is None
