"""The Graph stand-in's pure rules: connection, schema, item, people settings."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.graph.rules.connections import check_connection, check_connection_id
from devstack.graph.rules.enums import PERSON_LABEL_TYPES, present_label
from devstack.graph.rules.items import check_item, check_item_id
from devstack.graph.rules.people_settings import check_profile_source, check_property_setting
from devstack.graph.rules.prefer import max_page_size, prefers
from devstack.graph.rules.schema import (
    EXTERNAL_ITEM_BASE_TYPE,
    SchemaProperty,
    check_schema,
    schema_properties,
)

ACCOUNT = {"name": "account", "type": "string", "labels": ["personAccount"]}
SCHEMA = {
    "account": SchemaProperty("account", "string", ("personAccount",)),
    "awards": SchemaProperty("awards", "stringCollection", ("personAwards",)),
    "count": SchemaProperty("count", "int64"),
    "score": SchemaProperty("score", "double"),
    "flag": SchemaProperty("flag", "boolean"),
    "note": SchemaProperty("note", "string"),
}
EVERYONE = [{"type": "everyone", "value": "everyone", "accessType": "grant"}]


def schema(*properties: dict[str, Any]) -> dict[str, Any]:
    return {"baseType": EXTERNAL_ITEM_BASE_TYPE, "properties": [ACCOUNT, *properties]}


def item(**properties: Any) -> dict[str, Any]:
    return {
        "acl": EVERYONE,
        "properties": {"account": '{"userPrincipalName":"a@b.c"}', **properties},
    }


# -- connections ----------------------------------------------------------------------------


@pytest.mark.parametrize("connection_id", ["abc", "credlybadges", "A1b2C3", "x" * 32])
def test_valid_connection_ids(connection_id: str) -> None:
    assert check_connection_id(connection_id) is None


@pytest.mark.parametrize(
    "connection_id",
    ["", "ab", "x" * 33, "credly_badges", "credly badges", "microsoftx", "Yammer", "mailbox", 42],
)
def test_invalid_connection_ids(connection_id: Any) -> None:
    problem = check_connection_id(connection_id)
    assert problem is not None
    assert (problem.status, problem.code) == (400, "InvalidRequest")


def test_connection_body_lists_every_problem() -> None:
    problems = check_connection({"id": "ab", "contentCategory": "persons", "extra": 1})
    assert [p.code for p in problems] == [
        "BadRequest",
        "InvalidRequest",
        "InvalidRequest",
        "BadRequest",
    ]


# -- schema ---------------------------------------------------------------------------------


def test_people_schema_from_the_research_notes_is_accepted() -> None:
    body = schema(
        {"name": "certifications", "type": "stringCollection", "labels": ["personCertifications"]},
        {"name": "awards", "type": "stringCollection", "labels": ["personAwards"]},
        {"name": "skills", "type": "stringCollection", "labels": ["personSkills"]},
        {"name": "position", "type": "string", "labels": ["personCurrentPosition"]},
        {"name": "custom", "type": "string", "description": "free text"},
    )
    assert check_schema(body, "people", include_unknown_enum_members=True) == []
    parsed = schema_properties(body)
    assert parsed[1] == SchemaProperty(
        "certifications", "stringCollection", ("personCertifications",)
    )
    assert parsed[1].person_label == "personCertifications"


def test_every_person_label_type_is_enforced() -> None:
    for label, type_name in PERSON_LABEL_TYPES.items():
        if label == "personAccount":
            continue
        wrong = "string" if type_name == "stringCollection" else "stringCollection"
        good = schema({"name": "p", "type": type_name, "labels": [label]})
        bad = schema({"name": "p", "type": wrong, "labels": [label]})
        assert check_schema(good, "people", True) == [], label
        assert check_schema(bad, "people", True), label


def test_without_the_prefer_header_only_basic_labels_pass() -> None:
    basic = {
        "baseType": EXTERNAL_ITEM_BASE_TYPE,
        "properties": [{"name": "t", "type": "string", "labels": ["title"]}],
    }
    assert check_schema(basic, "knowledgeBase", False) == []
    evolvable = {**basic, "properties": [{"name": "t", "type": "string", "labels": ["iconUrl"]}]}
    assert check_schema(evolvable, "knowledgeBase", False)
    assert check_schema(evolvable, "knowledgeBase", True) == []
    principal = {**basic, "properties": [{"name": "o", "type": "principal"}]}
    assert check_schema(principal, None, False)
    assert check_schema(principal, None, True) == []


def test_schema_limit_is_128_properties() -> None:
    many = [{"name": f"p{i}", "type": "string"} for i in range(127)]
    assert check_schema(schema(*many), "people", True) == []
    assert check_schema(schema(*many, {"name": "one", "type": "string"}), "people", True)


def test_long_descriptions_are_refused() -> None:
    body = schema({"name": "n", "type": "string", "description": "d" * 201})
    assert "200" in check_schema(body, "people", True)[0].message


@pytest.mark.parametrize(
    ("label", "include", "shown"),
    [
        ("title", False, "title"),
        ("personAwards", False, "unknownFutureValue"),
        ("personAwards", True, "personAwards"),
        ("containerName", False, "unknownFutureValue"),
    ],
)
def test_present_label(label: str, include: bool, shown: str) -> None:
    assert present_label(label, include) == shown


def test_prefer_header_parsing() -> None:
    header = 'respond-async, include-unknown-enum-members, odata.maxpagesize="50"'
    assert prefers(header, "include-unknown-enum-members")
    assert prefers(header, "respond-async")
    assert not prefers(None, "respond-async")
    assert max_page_size(header) == 50
    assert max_page_size("odata.maxpagesize=abc") is None
    assert max_page_size("odata.maxpagesize=0") is None


# -- items ----------------------------------------------------------------------------------


def test_a_valid_item_has_no_problems_and_nothing_ignored() -> None:
    body = item(
        **{"awards@odata.type": "Collection(String)"},
        awards=['{"displayName":"x"}'],
        count=3,
        score=2.5,
        flag=True,
        note="Zoë",
        **{"note@odata.type": "String"},
    )
    verdict = check_item("u1", body, SCHEMA, people=True)
    assert verdict.problems == []
    assert verdict.ignored == []


@pytest.mark.parametrize(
    ("properties", "needle"),
    [
        ({"count": "3"}, "int64"),
        ({"count": True}, "int64"),
        ({"score": "x"}, "double"),
        ({"flag": 1}, "boolean"),
        ({"note": 1}, "string"),
        ({"note": "x", "note@odata.type": "Int64"}, "does not fit"),
        ({"ghost@odata.type": "String"}, "not in the schema"),
    ],
)
def test_value_types_are_checked(properties: dict[str, Any], needle: str) -> None:
    problems = check_item("u1", item(**properties), SCHEMA, people=True).problems
    assert problems
    assert needle in problems[0].message


def test_non_people_items_need_an_acl_but_not_everyone() -> None:
    body = {
        "acl": [{"type": "user", "value": "x", "accessType": "grant"}],
        "properties": {"note": "n"},
    }
    assert check_item("u1", body, SCHEMA, people=False).problems == []
    assert check_item("u1", {**body, "acl": []}, SCHEMA, people=False).problems


def test_ignored_values_are_reported_only_for_accepted_items() -> None:
    body = item(awards=["nope"], **{"awards@odata.type": "Collection(String)"})
    verdict = check_item("u1", body, SCHEMA, people=True)
    assert [(v.property, v.index, v.reason) for v in verdict.ignored] == [
        ("awards", 0, "not valid JSON")
    ]
    refused = check_item("u1", {**body, "acl": []}, SCHEMA, people=True)
    assert refused.problems
    assert refused.ignored == []


@pytest.mark.parametrize("item_id", ["", "u-1", "u_1", "u" * 129, "ü1"])
def test_invalid_item_ids(item_id: str) -> None:
    assert check_item_id(item_id) is not None


# -- people settings ------------------------------------------------------------------------


def test_profile_source_rules() -> None:
    good = {"sourceId": "credly", "displayName": "Credly", "webUrl": "https://www.credly.com/"}
    assert check_profile_source(good, creating=True) == []
    assert check_profile_source({**good, "webUrl": "ftp://x"}, creating=True)
    assert check_profile_source({"displayName": "New"}, creating=False, source_id="credly") == []
    assert check_profile_source({"sourceId": "credly"}, creating=False, source_id="credly") == []
    assert check_profile_source({"sourceId": "other"}, creating=False, source_id="credly")
    assert check_profile_source({"displayName": ""}, creating=False, source_id="credly")


def test_property_setting_rules() -> None:
    assert check_property_setting({"prioritizedSourceUrls": ["a", "b"]}, creating=False) == []
    assert check_property_setting({"prioritizedSourceUrls": ["a", "A"]}, creating=False)
    assert check_property_setting({"prioritizedSourceUrls": None}, creating=False)
    assert check_property_setting({"name": 3}, creating=True)
    assert check_property_setting({}, creating=True) == []
