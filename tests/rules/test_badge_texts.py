"""Every text a badge carries to Graph is plain text, cleaned the same way, whatever its field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credly_connector.rules import Badge, compose_item_report, parse_badge
from tests.rules.builders import ORG_ID, make_raw_badge, make_user
from tests.rules.hostile_text import assert_plain, hostile

SITE = "https://www.credly.com"
HOSTILE_VALUES = (
    "<b>Bold</b> <script>alert(1)</script>Azure",
    "&lt;b&gt;Bold&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;Azure",
    "&amp;lt;b&amp;gt;Bold&amp;lt;/b&amp;gt; Azure",
    "\u202eBold\u202c\x00 Azure",
)
"""Raw, entity-encoded, twice-encoded and bidi-laden forms of the same visible text."""


def _raw(
    *,
    name: Any = "Badge Template 1",
    description: Any = "Plain",
    skills: Any = ("Skill 1",),
    issuer_name: Any = "Issuer",
    owner_name: Any = "Owner",
) -> dict[str, Any]:
    raw = make_raw_badge()
    raw["issuer"]["entities"][0]["entity"]["name"] = issuer_name
    template = raw["badge_template"]
    template.update(name=name, description=description, skills=list(skills))
    template["owner"]["name"] = owner_name
    return raw


def _parsed(raw: dict[str, Any]) -> Badge:
    result = parse_badge(raw, organization_id=ORG_ID)
    assert isinstance(result, Badge), result
    return result


def _entry_and_skills(badge: Badge) -> tuple[dict[str, Any], list[str]]:
    composed = compose_item_report(make_user(), [badge], web_url=SITE, index_skills=True)
    assert composed is not None
    properties = composed.item["properties"]
    (entry,) = [json.loads(v) for v in properties["certifications"] + properties["awards"]]
    return entry, [json.loads(v)["displayName"] for v in properties["skills"]]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_template_name_is_plain_text_in_the_item(value: str) -> None:
    entry, _ = _entry_and_skills(_parsed(_raw(name=value)))

    assert entry["displayName"] == "Bold Azure"


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_description_is_plain_text_in_the_item(value: str) -> None:
    entry, _ = _entry_and_skills(_parsed(_raw(description=value)))

    assert entry["description"] == "Bold Azure"


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("as_object", [False, True])
def test_skill_names_are_plain_text_in_the_item(value: str, as_object: bool) -> None:
    skill = {"id": "s1", "name": value} if as_object else value

    _, skills = _entry_and_skills(_parsed(_raw(skills=[skill])))

    assert skills == ["Bold Azure"]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_issuer_name_is_plain_text_in_the_item(value: str) -> None:
    entry, _ = _entry_and_skills(_parsed(_raw(issuer_name=value)))

    assert entry["issuingAuthority"] == entry["issuingCompany"] == "Bold Azure"


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_template_owner_name_is_plain_text_when_it_stands_in_for_the_issuer(value: str) -> None:
    entry, _ = _entry_and_skills(_parsed(_raw(issuer_name=None, owner_name=value)))

    assert entry["issuingAuthority"] == "Bold Azure"


def test_skills_equal_once_cleaned_are_one_skill() -> None:
    badge = _parsed(_raw(skills=["<b>Azure</b>", "&lt;i&gt;azure&lt;/i&gt;", "Azure\u202e"]))

    assert badge.skills == ("Azure",)


@pytest.mark.parametrize("name", ["<b></b>", "&lt;script&gt;x&lt;/script&gt;", "\u202e\u202c"])
def test_a_template_name_of_markup_only_skips_the_badge_as_blank(name: str) -> None:
    result = parse_badge(_raw(name=name), organization_id=ORG_ID)

    assert not isinstance(result, Badge)
    assert result.detail == "badge_template.name is blank"


@pytest.mark.parametrize("blank", ["", "  ", "<b> </b>", "&lt;br&gt;", "\u202e", None, 7])
def test_an_issuer_without_a_usable_name_falls_back_to_the_template_owner(blank: Any) -> None:
    entry, _ = _entry_and_skills(_parsed(_raw(issuer_name=blank, owner_name="Owner Org")))

    assert entry["issuingAuthority"] == entry["issuingCompany"] == "Owner Org"


@pytest.mark.parametrize("certification", [True, False])
def test_with_neither_issuer_nor_owner_named_the_issuer_is_left_out(certification: bool) -> None:
    raw = _raw(issuer_name="<i></i>", owner_name="&lt;b&gt;&lt;/b&gt;")
    raw["badge_template"]["certification"] = certification

    badge = _parsed(raw)
    entry, _ = _entry_and_skills(badge)

    assert badge.issuing_authority == ""
    assert "issuingAuthority" not in entry
    assert "issuingCompany" not in entry
    assert entry["displayName"] == "Badge Template 1"


text_field = st.one_of(hostile, st.sampled_from(HOSTILE_VALUES))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=text_field,
    description=text_field,
    skills=st.lists(
        st.one_of(text_field, text_field.map(lambda n: {"id": "s", "name": n})), max_size=4
    ),
    issuer_name=text_field,
    owner_name=text_field,
    certification=st.booleans(),
)
def test_every_text_the_item_carries_is_bounded_plain_text(
    *,
    name: str,
    description: str,
    skills: list[Any],
    issuer_name: str,
    owner_name: str,
    certification: bool,
) -> None:
    raw = _raw(
        name=name,
        description=description,
        skills=skills,
        issuer_name=issuer_name,
        owner_name=owner_name,
    )
    raw["badge_template"]["certification"] = certification
    result = parse_badge(raw, organization_id=ORG_ID)
    if not isinstance(result, Badge):
        # Only a name with nothing left once cleaned may cost the badge.
        assert result.detail == "badge_template.name is blank"
        return

    entry, item_skills = _entry_and_skills(result)

    assert_plain(entry["displayName"], 500)
    assert entry["displayName"]
    assert_plain(entry.get("description", ""), 2000)
    assert "description" not in entry or entry["description"]
    for key in ("issuingAuthority", "issuingCompany"):
        # Left out rather than sent empty.
        assert key not in entry or entry[key]
        assert_plain(entry.get(key, ""), 500)
    for skill in item_skills:
        assert skill
        assert_plain(skill, 200)
