"""Tests of the badge parser, email normalisation and the badge record round trip."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from credly_connector.rules import (
    Badge,
    SkippedBadge,
    normalize_email,
    parse_badge,
    parse_timestamp,
    reasons,
)
from tests.rules.builders import BASE_BADGE, ORG_ID, RAW_BADGE, make_badge, make_raw_badge


def _parsed(raw: Any) -> Badge:
    result = parse_badge(raw, organization_id=ORG_ID)
    assert isinstance(result, Badge), result
    return result


def _skipped(raw: Any) -> SkippedBadge:
    result = parse_badge(raw, organization_id=ORG_ID)
    assert isinstance(result, SkippedBadge), result
    return result


def _with_template(**changes: Any) -> dict[str, Any]:
    raw = make_raw_badge()
    raw["badge_template"].update(changes)
    return raw


# The documented example ---------------------------------------------------------------------


def test_documented_example_parses_to_every_normalised_field() -> None:
    badge = _parsed(make_raw_badge())

    assert badge == Badge(
        id="749daf6e-4dbc-4b47-b401-b7e0477e0284",
        organization_id=ORG_ID,
        recipient_email="user10001@example.com",
        state="accepted",
        public=True,
        issued_at=datetime(2014, 4, 1, 14, 41, tzinfo=UTC),
        expires_at=datetime(2016, 4, 1, 14, 41, tzinfo=UTC),
        created_at=datetime(2014, 4, 1, 14, 41, tzinfo=UTC),
        updated_at=datetime(2014, 4, 2, 10, 0, tzinfo=UTC),
        replacement_badge_id=None,
        template_id="09d1ac8b-d097-4ae4-844a-a2ae01d1bdbe",
        template_name="Badge Template 1",
        description="Dynamically deliver go forward e-tailers",
        certification=True,
        issuing_authority="Organization 1",
        image_url="https://images.credly.com/images/5ef66a91/badge.png",
        skills=("Skill 1",),
    )


def test_parser_does_not_modify_its_input() -> None:
    raw = make_raw_badge()

    _parsed(raw)

    assert raw == RAW_BADGE


# Skipped badges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (None, "not a JSON object"),
        ([RAW_BADGE], "not a JSON object"),
        ("749daf6e", "not a JSON object"),
        (42, "not a JSON object"),
        (make_raw_badge(id=None), "id missing"),
        (make_raw_badge(id="   "), "id is blank"),
        (make_raw_badge(id=12345), "id is not a string"),
        (make_raw_badge(id="a/b"), "characters"),
        (make_raw_badge(id="x" * 129), "too long"),
        (make_raw_badge(badge_template=None), "badge_template missing"),
        (make_raw_badge(badge_template="Badge Template 1"), "badge_template missing"),
        (_with_template(name=None), "badge_template.name"),
        (_with_template(name=" \n "), "badge_template.name is blank"),
        (_with_template(id=7), "badge_template.id"),
        (make_raw_badge(state=None), "state"),
        (make_raw_badge(state=["accepted"]), "state"),
        (make_raw_badge(public=None), "public"),
        (make_raw_badge(public="true"), "public"),
        (make_raw_badge(issued_at=None), "issued_at"),
        (make_raw_badge(issued_at="yesterday"), "issued_at"),
        (make_raw_badge(issued_at=1396363260), "issued_at"),
        (make_raw_badge(expires_at="never"), "expires_at"),
        (make_raw_badge(expires_at=True), "expires_at"),
        (make_raw_badge(replacement_badge_id=99), "replacement_badge_id"),
    ],
)
def test_unusable_badges_are_skipped_as_invalid_badge(raw: Any, detail: str) -> None:
    skipped = _skipped(raw)

    assert skipped.reason == reasons.INVALID_BADGE
    assert detail in skipped.detail


def test_missing_fields_are_skipped_like_null_ones() -> None:
    raw = make_raw_badge()
    del raw["issued_at"]

    assert _skipped(raw).detail == "issued_at missing or not an ISO-8601 timestamp"


@pytest.mark.parametrize(
    ("email", "shown", "detail"),
    [
        (None, None, "recipient_email missing"),
        (17, None, "recipient_email invalid"),
        ("", None, "recipient_email invalid"),
        ("not-an-email", "not-an-email", "recipient_email invalid"),
        ("a b@example.com", "a b@example.com", "recipient_email invalid"),
        ("a@@example.com", "a@@example.com", "recipient_email invalid"),
        ("x" * 250 + "@example.com", ("x" * 250 + "@example.com"), "recipient_email invalid"),
    ],
)
def test_unusable_recipient_emails_are_skipped_as_invalid_email(
    email: Any, shown: str | None, detail: str
) -> None:
    skipped = _skipped(make_raw_badge(recipient_email=email))

    assert skipped == SkippedBadge(
        "749daf6e-4dbc-4b47-b401-b7e0477e0284", shown, reasons.INVALID_EMAIL, detail
    )


def test_an_invalid_badge_with_an_invalid_email_reports_the_badge_problem_and_the_email() -> None:
    skipped = _skipped(make_raw_badge(issued_at=None, recipient_email="Someone@Example.com"))

    assert skipped.reason == reasons.INVALID_BADGE
    assert skipped.badge_id == "749daf6e-4dbc-4b47-b401-b7e0477e0284"
    assert skipped.recipient_email == "someone@example.com"


# Emails --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Adele.Vance@Contoso.COM ", "adele.vance@contoso.com"),
        ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("zoë@exämple.de", "zoë@exämple.de"),
        ("a@b.c", "a@b.c"),
        ("x" * 65 + "@example.com", None),
        ("no-at-sign", None),
        ("two@@example.com", None),
        ("a@b@example.com", None),
        ("@example.com", None),
        ("user@", None),
        ("user@localhost", None),
        ("user@-bad.com", None),
        ("user@bad-.com", None),
        ("user@exa mple.com", None),
        (".user@example.com", None),
        ("us..er@example.com", None),
        ("us\x00er@example.com", None),
        ("us\ner@example.com", None),
        ('"quoted"@example.com', None),
        ("<user@example.com>", None),
        ("user@example..com", None),
        (None, None),
        (42, None),
    ],
)
def test_normalize_email(value: Any, expected: str | None) -> None:
    assert normalize_email(value) == expected


def test_normalize_email_accepts_exactly_254_characters() -> None:
    email = "x" * 64 + "@" + "d" * 63 + "." + "e" * 63 + "." + "f" * 61

    assert len(email) == 254
    assert normalize_email(email) == email
    assert normalize_email(email + "f") is None


# Dates -----------------------------------------------------------------------------------------

ISSUED = datetime(2014, 4, 1, 14, 41, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014-04-01T14:41:00.000Z", ISSUED),
        ("2014-04-01T14:41:00Z", ISSUED),
        ("2014-04-01T14:41:00.123Z", ISSUED + timedelta(milliseconds=123)),
        ("2014-04-01T14:41:00.123456789Z", ISSUED + timedelta(microseconds=123456)),
        ("2014-04-01T14:41:00z", ISSUED),
        ("2014-04-01T16:41:00+02:00", ISSUED),
        ("2014-04-01T09:41:00-0500", ISSUED),
        ("2014-04-01 09:41:00 -0500", ISSUED),
        ("2014-04-01T14:41:00", ISSUED),
        ("  2014-04-01T14:41:00Z\n", ISSUED),
        ("2014-04-01", datetime(2014, 4, 1, tzinfo=UTC)),
        ("0001-01-01T00:00:00+01:00", None),
        ("2014-04-01T24:00:00Z", None),
        ("2014-13-01T00:00:00Z", None),
        ("01/04/2014", None),
        ("", None),
        ("2014-04-01T14:41:00Z" + " " * 60, None),
        (1396363260, None),
        (None, None),
    ],
)
def test_parse_timestamp(value: Any, expected: datetime | None) -> None:
    parsed = parse_timestamp(value)

    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


def test_offsets_are_converted_to_utc() -> None:
    badge = _parsed(make_raw_badge(issued_at="2014-04-01T23:30:00-05:00"))

    assert badge.issued_at == datetime(2014, 4, 2, 4, 30, tzinfo=UTC)
    assert badge.issued_at.tzinfo is UTC


@pytest.mark.parametrize("value", [None, False, "", "__absent__"])
def test_no_expiry_reads_as_none(value: Any) -> None:
    raw = make_raw_badge(expires_at=value)
    if value == "__absent__":
        del raw["expires_at"]

    assert _parsed(raw).expires_at is None


@pytest.mark.parametrize("field", ["created_at", "updated_at"])
@pytest.mark.parametrize("value", [None, "garbage", 12, {"a": 1}])
def test_unreadable_record_times_read_as_none(field: str, value: Any) -> None:
    assert getattr(_parsed(make_raw_badge(**{field: value})), field) is None


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("issued_at", "0001-01-01T00:00:00Z", "0001-01-01"),
        ("issued_at", "1979-12-31T23:59:59Z", "1979-12-31"),
        ("issued_at", "2100-01-01T00:00:00Z", "2100-01-01"),
        ("issued_at", "9999-12-31T23:59:59+02:00", "9999-12-31"),
        ("expires_at", "1970-01-01T00:00:00Z", "1970-01-01"),
        ("expires_at", "3000-06-01T00:00:00Z", "3000-06-01"),
    ],
)
def test_a_date_outside_the_plausible_range_skips_the_badge_with_its_reason(
    field: str, value: str, shown: str
) -> None:
    skipped = _skipped(make_raw_badge(**{field: value}))

    assert skipped.reason == reasons.INVALID_DATE
    assert skipped.detail == f"{field} {shown} is outside 1980-2099"
    assert skipped.badge_id == RAW_BADGE["id"]
    assert skipped.recipient_email == "user10001@example.com"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issued_at", "1980-01-01T00:00:00Z"),
        ("issued_at", "2099-12-31T23:59:59Z"),
        ("expires_at", "2099-12-31T23:59:59Z"),
    ],
)
def test_dates_at_the_edges_of_the_plausible_range_are_kept(field: str, value: str) -> None:
    assert getattr(_parsed(make_raw_badge(**{field: value})), field) == parse_timestamp(value)


def test_a_structural_problem_is_reported_before_an_implausible_date() -> None:
    raw = make_raw_badge(issued_at="0001-01-01T00:00:00Z", badge_template=None)

    assert _skipped(raw).reason == reasons.INVALID_BADGE


@pytest.mark.parametrize("field", ["created_at", "updated_at"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z"])
def test_implausible_record_times_read_as_unknown(field: str, value: str) -> None:
    # A far-future updated_at would make every later version of the badge look stale.
    assert getattr(_parsed(make_raw_badge(**{field: value})), field) is None


# Fields ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [("accepted", "accepted"), ("ACCEPTED", "accepted"), (" Pending ", "pending"), ("new", "new")],
)
def test_state_is_trimmed_and_lower_cased(state: str, expected: str) -> None:
    assert _parsed(make_raw_badge(state=state)).state == expected


@pytest.mark.parametrize(
    ("certification", "type_category", "expected"),
    [
        (True, None, True),
        (False, "Certification", True),
        (None, "CERTIFICATION", True),
        (False, " certification ", True),
        (False, "Learning", False),
        (None, None, False),
        ("true", None, False),
        (1, None, False),
    ],
)
def test_certification_from_flag_or_type_category(
    certification: Any, type_category: Any, expected: bool
) -> None:
    raw = _with_template(certification=certification, type_category=type_category)

    assert _parsed(raw).certification is expected


def _entity(name: Any, *, primary: Any = False) -> dict[str, Any]:
    return {"label": "Issued by", "primary": primary, "entity": {"id": "e", "name": name}}


@pytest.mark.parametrize(
    ("issuer", "owner", "expected"),
    [
        ({"entities": [_entity("Partner"), _entity("Main", primary=True)]}, None, "Main"),
        ({"entities": [_entity("First"), _entity("Second")]}, None, "First"),
        ({"entities": [_entity(None, primary=True), _entity("Named")]}, None, "Named"),
        ({"entities": [_entity("Truthy", primary="yes"), _entity("Other")]}, None, "Truthy"),
        ({"entities": []}, {"name": "Template Owner"}, "Template Owner"),
        (None, {"name": "  Template\nOwner "}, "Template Owner"),
        ({"entities": "nope"}, "nope", ""),
        (None, None, ""),
        ({"entities": [_entity("x" * 600, primary=True)]}, None, "x" * 500),
    ],
)
def test_issuing_authority(issuer: Any, owner: Any, expected: str) -> None:
    raw = make_raw_badge(issuer=issuer)
    raw["badge_template"]["owner"] = owner

    assert _parsed(raw).issuing_authority == expected


@pytest.mark.parametrize(
    ("image_url", "image", "expected"),
    [
        (
            "https://img.example/a.png",
            {"url": "https://img.example/b.png"},
            "https://img.example/a.png",
        ),
        (None, {"url": "https://img.example/b.png"}, "https://img.example/b.png"),
        ("javascript:alert(1)", {"url": "http://img.example/b.png"}, "http://img.example/b.png"),
        ("https://img.example/" + "a" * 3000, None, None),
        ("https://img.example/a b.png", None, None),
        (17, {"url": ["x"]}, None),
        (None, None, None),
    ],
)
def test_image_url(image_url: Any, image: Any, expected: str | None) -> None:
    assert _parsed(make_raw_badge(image_url=image_url, image=image)).image_url == expected


@pytest.mark.parametrize(
    ("skills", "expected"),
    [
        (["Python", {"id": "1", "name": "SQL", "vanity_slug": "sql"}], ("Python", "SQL")),
        ([" Azure ", "azure", {"name": "AZURE"}, "Kubernetes"], ("Azure", "Kubernetes")),
        (["", "  ", {"name": None}, {"id": "no-name"}, 5, None, ["x"]], ()),
        (["x" * 300], ("x" * 200,)),
        (["Straße", "STRASSE"], ("Straße",)),
        ([f"skill {n}" for n in range(150)], tuple(f"skill {n}" for n in range(100))),
        ("Python", ()),
        (None, ()),
    ],
)
def test_skills_are_trimmed_distinct_and_bounded(skills: Any, expected: tuple[str, ...]) -> None:
    assert _parsed(_with_template(skills=skills)).skills == expected


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("<p>Hello <script>evil()</script>world &amp; all</p>", "Hello world & all"),
        ("Line one.\nLine\ttwo.", "Line one. Line two."),
        (None, ""),
        (42, ""),
        ({"html": "x"}, ""),
    ],
)
def test_description_is_plain_text(description: Any, expected: str) -> None:
    assert _parsed(_with_template(description=description)).description == expected


def test_description_is_capped_at_2000_characters() -> None:
    badge = _parsed(_with_template(description="<div>" + "é" * 1_000_000 + "</div>"))

    assert badge.description == "é" * 2000


def test_template_name_is_cleaned_and_capped_at_500_characters() -> None:
    assert _parsed(_with_template(name="\x00Cloud\nArchitect\x1b")).template_name == (
        "Cloud Architect"
    )
    assert _parsed(_with_template(name="n" * 10_000)).template_name == "n" * 500


def test_replacement_badge_id_is_kept_and_blank_reads_as_none() -> None:
    assert _parsed(make_raw_badge(replacement_badge_id="new-id")).replacement_badge_id == "new-id"
    assert _parsed(make_raw_badge(replacement_badge_id=" ")).replacement_badge_id is None


def test_unknown_fields_are_ignored() -> None:
    plain = _parsed(make_raw_badge())

    noisy = _parsed(make_raw_badge(evidence=[{"x": object()}], translate_metadata=[1, 2, 3]))

    assert noisy == plain


# Records and hashes ----------------------------------------------------------------------------


def test_record_round_trips_through_json() -> None:
    badge = make_badge(
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
        updated_at=None,
        replacement_badge_id="b-0002",
        description="Zoë\u2019s 🎓 شارة",
    )

    record = json.loads(json.dumps(badge.to_record()))

    assert Badge.from_record(record) == badge
    assert record["issued_at"] == "2025-03-14T09:30:00+00:00"
    assert record["expires_at"] == "2027-01-01T00:00:00+00:00"
    assert record["updated_at"] is None
    assert record["skills"] == ["Azure", "Networking"]


def test_parsed_badge_round_trips_exactly() -> None:
    badge = _parsed(make_raw_badge(issued_at="2014-04-01T14:41:00.123456Z"))

    assert Badge.from_record(badge.to_record()) == badge


@pytest.mark.parametrize(
    "record",
    [
        {k: v for k, v in BASE_BADGE.to_record().items() if k != "template_name"},
        {**BASE_BADGE.to_record(), "issued_at": None},
        {**BASE_BADGE.to_record(), "expires_at": 5},
        {**BASE_BADGE.to_record(), "created_at": "not a date"},
        {**BASE_BADGE.to_record(), "skills": "Azure"},
    ],
)
def test_from_record_rejects_malformed_records(record: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        Badge.from_record(record)


def test_content_hash_is_sha256_of_canonical_json() -> None:
    canonical = json.dumps(
        BASE_BADGE.to_record(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )

    assert BASE_BADGE.content_hash() == hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.parametrize(
    "change",
    [
        {"state": "revoked"},
        {"public": False},
        {"expires_at": datetime(2030, 1, 1, tzinfo=UTC)},
        {"updated_at": None},
        {"description": "Changed."},
        {"skills": ("Azure",)},
        {"skills": ("Networking", "Azure")},
        {"image_url": None},
        {"organization_id": "other-org"},
    ],
)
def test_content_hash_changes_with_any_field(change: dict[str, Any]) -> None:
    assert make_badge(**change).content_hash() != BASE_BADGE.content_hash()


def test_content_hash_is_the_same_for_equal_instants_in_other_zones() -> None:
    shifted = BASE_BADGE.issued_at.astimezone(timezone(timedelta(hours=2)))

    # Equal badges must hash equally: records always spell instants in UTC.
    assert make_badge(issued_at=shifted) == BASE_BADGE
    assert make_badge(issued_at=shifted).content_hash() == BASE_BADGE.content_hash()


def test_badges_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASE_BADGE.state = "revoked"  # type: ignore[misc]
