"""Properties of the parser and item composition over hostile badge JSON.

Whatever Credly (or something pretending to be it) sends, the parser returns a Badge or a
SkippedBadge with a known reason, and any item composed from parsed badges is valid JSON
within Graph's size limit whose labelled values each parse as a JSON object.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from credly_connector.rules import (
    MAX_ITEM_BYTES,
    PEOPLE_SCHEMA,
    Badge,
    SkippedBadge,
    compose_item_report,
    item_size,
    normalize_email,
    parse_badge,
    reasons,
)
from credly_connector.rules.dates import EARLIEST_DATE, LATEST_DATE
from devstack.graph import rules as graph_rules
from tests.rules.builders import ORG_ID, RAW_BADGE, make_raw_badge, make_user
from tests.rules.hostile_text import assert_plain

SCHEMA = {p.name: p for p in graph_rules.schema_properties({"properties": PEOPLE_SCHEMA})}
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ABSENT = object()
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

MEGABYTE_TEXTS = (
    "é" * 1_000_000,
    "<p>" + "<b>🎓</b> שלום " * 100_000 + "</p>",
    "<script>" + "alert(1);" * 120_000 + "</script>tail",
    "\x00\u202e" * 500_000,
)
ODD_TEXTS = (
    "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>",
    "<style>body{display:none}</style>Hidden?",
    "شارة التميز — עברית \u202eevil\u202c",
    "🎓👩🏽‍💻🚀 " * 20,
    "\x00\x01\x1b[31mred\x1b[0m\x7f\x85\x9f",
    "\ud800 lone surrogate \udfff",
    "&lt;b&gt;escaped&lt;/b&gt; &amp;amp; &#0; &#xD800; &#1114112;",
    "   ",
    "",
)
ODD_DATES = (
    "2014-04-01T14:41:00.000Z",
    "2014-04-01T14:41:00Z",
    "2014-04-01T14:41:00.1234567+05:30",
    "2014-04-01 09:41:00 -0500",
    "2014-04-01",
    "20140401T144100Z",
    "2014-W14-2",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "2014-02-30T00:00:00Z",
    "2014-04-01T14:41:00+25:00",
    "1396363260",
    "yesterday",
    "",
)
EMAILS = (
    "Adele.Vance@Contoso.com",
    " spaced@example.com ",
    "zoë@exämple.de",
    "x" * 250 + "@example.com",
    "x" * 65 + "@example.com",
    "two@@example.com",
    "no-at-sign",
    "a@b",
    "nul\x00@example.com",
    "<a@example.com>",
)

hostile_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(ODD_TEXTS),
    st.sampled_from(MEGABYTE_TEXTS),
)
wrong_type = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

broken = st.one_of(st.just(ABSENT), st.none(), wrong_type, hostile_text)


def _breakable(valid: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with valid fields, then up to two of them absent, null, mistyped or hostile."""
    breaks = st.dictionaries(st.sampled_from(sorted(valid)), broken, max_size=2)
    return st.tuples(st.fixed_dictionaries(valid), breaks).map(
        lambda pair: {k: v for k, v in {**pair[0], **pair[1]}.items() if v is not ABSENT}
    )


aware_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.builds(timezone, st.timedeltas(-timedelta(hours=23), timedelta(hours=23))),
)
# Mostly dates a badge can have (1980-2099); the rest anywhere in 1-9999, or odd strings.
plausible_datetimes = st.datetimes(
    min_value=datetime(1980, 1, 2),  # noqa: DTZ001
    max_value=datetime(2099, 12, 30),  # noqa: DTZ001
    timezones=st.builds(timezone, st.timedeltas(-timedelta(hours=23), timedelta(hours=23))),
)
dates = st.one_of(
    plausible_datetimes.map(lambda d: d.isoformat()),
    plausible_datetimes.map(lambda d: f"{d.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"),
    aware_datetimes.map(lambda d: d.isoformat()),
    st.sampled_from(ODD_DATES),
)
names = st.one_of(st.text(min_size=1, max_size=80), st.sampled_from(ODD_TEXTS + MEGABYTE_TEXTS))
skills = st.lists(
    st.one_of(names, _breakable({"id": st.text(max_size=5), "name": names}), wrong_type),
    max_size=8,
)
entity_entries = st.lists(
    st.one_of(
        _breakable({"primary": st.booleans(), "entity": _breakable({"name": names})}),
        wrong_type,
    ),
    max_size=4,
)
templates = _breakable(
    {
        "id": st.uuids().map(str),
        "name": names,
        "description": hostile_text,
        "certification": st.booleans(),
        "type_category": st.sampled_from(["Certification", "certification", "Learning"]),
        "owner": _breakable({"name": names}),
        "skills": skills,
    }
)
urls = st.one_of(
    st.sampled_from(
        ["https://images.credly.com/a.png", "javascript:alert(1)", "http://x/" + "a" * 3000]
    ),
    st.text(max_size=30),
)
badges_json = _breakable(
    {
        "id": st.uuids().map(str),
        "state": st.sampled_from(["accepted", "PENDING", "rejected", "revoked", "replaced"]),
        "public": st.booleans(),
        "recipient_email": st.one_of(st.emails(), st.sampled_from(EMAILS)),
        "issued_at": dates,
        "expires_at": st.one_of(dates, st.just(False), st.just("")),
        "created_at": dates,
        "updated_at": dates,
        "replacement_badge_id": st.one_of(st.none(), st.uuids().map(str)),
        "image_url": urls,
        "image": _breakable({"url": urls}),
        "issuer": _breakable({"entities": entity_entries}),
        "badge_template": templates,
        "x_unknown": st.text(max_size=10),
    }
)
not_objects = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.text(max_size=20),
    st.lists(badges_json, max_size=2),
)
upns = st.sampled_from(
    ["adele.vance@contoso.com", "zoë.núñez@contoso.com", 'o"q\\b@contoso.com', "李@contoso.com"]
)


def _assert_clean_badge(badge: Badge) -> None:
    assert badge.recipient_email == normalize_email(badge.recipient_email)
    assert badge.organization_id == ORG_ID
    assert badge.id
    assert badge.template_id
    assert badge.template_name
    assert len(badge.template_name) <= 500
    assert len(badge.description) <= 2000
    assert all(0 < len(skill) <= 200 for skill in badge.skills)
    assert len({skill.casefold() for skill in badge.skills}) == len(badge.skills)
    for moment in (badge.issued_at, badge.expires_at, badge.created_at, badge.updated_at):
        assert moment is None or moment.utcoffset() == timedelta(0)
    texts = [badge.template_name, badge.description, badge.issuing_authority, badge.state]
    texts += list(badge.skills)
    assert not any(CONTROLS.search(text) for text in texts)
    for text, limit in [
        (badge.template_name, 500),
        (badge.description, 2000),
        (badge.issuing_authority, 500),
        *((skill, 200) for skill in badge.skills),
    ]:
        assert_plain(text, limit)
    for moment in (badge.issued_at, badge.expires_at):
        assert moment is None or EARLIEST_DATE <= moment < LATEST_DATE
    assert badge.image_url is None or badge.image_url.startswith(("http://", "https://"))
    assert Badge.from_record(json.loads(json.dumps(badge.to_record()))) == badge
    assert re.fullmatch("[0-9a-f]{64}", badge.content_hash())


def _assert_valid_item(badges: list[Badge], upn: str, index_skills: bool) -> None:
    user = make_user(user_principal_name=upn)
    composed = compose_item_report(
        user, badges, web_url="https://www.credly.com/", index_skills=index_skills
    )
    if not badges:
        assert composed is None
        return
    assert composed is not None
    encoded = json.dumps(composed.item, ensure_ascii=False).encode("utf-8")
    assert len(encoded) <= MAX_ITEM_BYTES
    assert item_size(composed.item) <= MAX_ITEM_BYTES
    assert json.loads(encoded) == composed.item
    properties = composed.item["properties"]
    assert isinstance(json.loads(properties["accountInformation"]), dict)
    for name in ("certifications", "awards", "skills"):
        assert all(isinstance(json.loads(value), dict) for value in properties[name])
    verdict = graph_rules.check_item(composed.item["id"], composed.item, SCHEMA, people=True)
    assert verdict.problems == []
    assert verdict.ignored == []
    entries = len(properties["certifications"]) + len(properties["awards"])
    assert entries + composed.dropped_entries == len({b.id for b in badges})


@PROPERTY_SETTINGS
@given(raw=not_objects)
def test_values_that_are_not_objects_are_invalid_badges(raw: Any) -> None:
    assert parse_badge(raw, organization_id=ORG_ID) == SkippedBadge(
        None, None, reasons.INVALID_BADGE, "badge is not a JSON object"
    )


@PROPERTY_SETTINGS
@given(raw=badges_json, upn=upns, index_skills=st.booleans())
def test_parser_never_raises_and_items_stay_valid(raw: Any, upn: str, index_skills: bool) -> None:
    result = parse_badge(raw, organization_id=ORG_ID)
    event(type(result).__name__ + (f" {result.reason}" if isinstance(result, SkippedBadge) else ""))

    assert isinstance(result, Badge | SkippedBadge)
    if isinstance(result, SkippedBadge):
        assert result.reason in reasons.PARSE_REASONS
        assert result.detail
        return
    _assert_clean_badge(result)
    _assert_valid_item([result], upn, index_skills)


@PROPERTY_SETTINGS
@given(raws=st.lists(st.one_of(badges_json, not_objects), max_size=12), upn=upns)
def test_items_from_many_hostile_badges_stay_valid(raws: list[Any], upn: str) -> None:
    parsed = [parse_badge(raw, organization_id=ORG_ID) for raw in raws]
    badges = [badge for badge in parsed if isinstance(badge, Badge)]

    _assert_valid_item(badges, upn, index_skills=True)


@PROPERTY_SETTINGS
@given(field=st.sampled_from(sorted(make_raw_badge())), value=st.one_of(st.none(), wrong_type))
def test_any_single_broken_field_gives_a_badge_or_a_known_reason(field: str, value: Any) -> None:
    result = parse_badge(make_raw_badge(**{field: value}), organization_id=ORG_ID)

    if isinstance(result, SkippedBadge):
        assert result.reason in reasons.PARSE_REASONS
        assert result.badge_id in (None, "749daf6e-4dbc-4b47-b401-b7e0477e0284")
    else:
        _assert_clean_badge(result)


def test_a_megabyte_description_with_scripts_parses_to_bounded_text() -> None:
    raw = make_raw_badge()
    raw["badge_template"]["description"] = MEGABYTE_TEXTS[2]

    badge = parse_badge(raw, organization_id=ORG_ID)

    assert isinstance(badge, Badge)
    assert badge.description == "tail"
    assert datetime(2014, 4, 1, tzinfo=UTC) < badge.issued_at


VALID_EMAILS = {
    "Adele.Vance@Contoso.com": "adele.vance@contoso.com",
    " spaced@example.com ": "spaced@example.com",
    "zoë@exämple.de": "zoë@exämple.de",
}


@pytest.mark.parametrize("raw_email", EMAILS)
def test_an_invalid_or_overlong_email_skips_the_badge_with_its_reason(raw_email: str) -> None:
    result = parse_badge(make_raw_badge(recipient_email=raw_email), organization_id=ORG_ID)

    if raw_email in VALID_EMAILS:
        assert isinstance(result, Badge)
        assert result.recipient_email == VALID_EMAILS[raw_email]
        return
    assert isinstance(result, SkippedBadge)
    assert (result.badge_id, result.reason, result.detail) == (
        RAW_BADGE["id"],
        reasons.INVALID_EMAIL,
        "recipient_email invalid",
    )
    assert result.recipient_email is None or not CONTROLS.search(result.recipient_email)


@settings(PROPERTY_SETTINGS, max_examples=25)
@given(
    raws=st.lists(badges_json, min_size=1, max_size=5),
    picks=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=12),
    upn=upns,
)
def test_a_badge_id_given_twice_is_one_entry_of_one_of_its_versions(
    raws: list[Any], picks: list[int], upn: str
) -> None:
    parsed = [parse_badge(raw, organization_id=ORG_ID) for raw in raws]
    badges = [b for b in parsed if isinstance(b, Badge)]
    assume(badges)
    # The same badge listed again (two pages), and again with other content (a later page).
    given_badges = [badges[i % len(badges)] for i in picks]
    given_badges += [replace(b, template_name=b.template_name[:400] + " (again)") for b in badges]
    user = make_user(user_principal_name=upn)

    composed = compose_item_report(
        user, given_badges, web_url="https://www.credly.com/", index_skills=True
    )

    assert composed is not None
    properties = composed.item["properties"]
    entries = [json.loads(e) for e in properties["certifications"] + properties["awards"]]
    ids = [e["webUrl"].rsplit("/", 1)[1] for e in entries]
    assert len(ids) == len(set(ids))
    assert len(ids) + composed.dropped_entries == len({b.id for b in given_badges})
    names: dict[str, set[str]] = {b.id: set() for b in given_badges}
    for badge in given_badges:
        names[badge.id].add(badge.template_name)
    quoted = {quote(badge_id, safe=""): badge_id for badge_id in names}
    assert all(e["displayName"] in names[quoted[i]] for e, i in zip(entries, ids, strict=True))
    _assert_valid_item(list({b.id: b for b in given_badges}.values()), upn, index_skills=True)
