"""Tests of composing a user's people-data external item from their badges."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from credly_connector.rules import (
    MAX_ITEM_BYTES,
    PEOPLE_SCHEMA,
    Badge,
    compose_item_report,
    item_content_hash,
    item_id_for,
    item_size,
)
from tests.rules.builders import make_badge, make_user

USER = make_user()
SITE = "https://www.credly.com"
CERT = make_badge()
AWARD = make_badge(
    id="b-0002",
    certification=False,
    template_name="Contoso Innovation Award 2024",
    issuing_authority="Contoso",
    issued_at=datetime(2024, 11, 5, 23, 59, tzinfo=UTC),
    description="",
    image_url=None,
    skills=("Innovation",),
)


def _item(badges: list[Badge], *, index_skills: bool = True, web_url: str = SITE) -> dict[str, Any]:
    composed = compose_item_report(USER, badges, web_url=web_url, index_skills=index_skills)
    assert composed is not None
    return composed.item


def _entries(item: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [json.loads(value) for value in item["properties"][name]]


def test_item_has_id_acl_account_and_annotated_collections() -> None:
    item = _item([CERT, AWARD])

    assert item["id"] == "6e2f0c1a9b3d4e5f8a7b6c5d4e3f2a1b"
    assert item["acl"] == [{"type": "everyone", "value": "everyone", "accessType": "grant"}]
    properties = item["properties"]
    assert properties["accountInformation"] == '{"userPrincipalName":"adele.vance@contoso.com"}'
    assert "accountInformation@odata.type" not in properties
    for name in ("certifications", "awards", "skills"):
        assert properties[f"{name}@odata.type"] == "Collection(String)"
    assert set(properties) == {
        "accountInformation",
        "certifications",
        "certifications@odata.type",
        "awards",
        "awards@odata.type",
        "skills",
        "skills@odata.type",
    }


def test_certification_entry_fields() -> None:
    badge = make_badge(expires_at=datetime(2026, 3, 14, 23, 0, tzinfo=UTC))

    (entry,) = _entries(_item([badge]), "certifications")

    assert entry == {
        "displayName": "Azure Administrator Associate",
        "description": "Earners can administer Azure.",
        "issuedDate": "2025-03-14",
        "issuingAuthority": "Microsoft",
        "issuingCompany": "Microsoft",
        "certificationId": "b-0001",
        "endDate": "2026-03-14",
        "thumbnailUrl": "https://images.credly.com/images/abc/image.png",
        "webUrl": "https://www.credly.com/badges/b-0001",
    }


def test_award_entry_fields_omit_empty_description_and_missing_thumbnail() -> None:
    item = _item([AWARD])

    assert _entries(item, "certifications") == []
    assert _entries(item, "awards") == [
        {
            "displayName": "Contoso Innovation Award 2024",
            "issuedDate": "2024-11-05",
            "issuingAuthority": "Contoso",
            "webUrl": "https://www.credly.com/badges/b-0002",
        }
    ]


def test_an_award_never_gets_certification_fields() -> None:
    badge = make_badge(certification=False, expires_at=datetime(2030, 1, 1, tzinfo=UTC))

    (entry,) = _entries(_item([badge]), "awards")

    assert not {"certificationId", "issuingCompany", "endDate"} & set(entry)


def test_a_certification_without_expiry_has_no_end_date() -> None:
    (entry,) = _entries(_item([CERT]), "certifications")

    assert "endDate" not in entry


def test_dates_are_utc_calendar_dates() -> None:
    late = datetime(2025, 3, 14, 23, 30, tzinfo=timezone(timedelta(hours=-5)))

    (entry,) = _entries(_item([make_badge(issued_at=late)]), "certifications")

    assert entry["issuedDate"] == "2025-03-15"


@pytest.mark.parametrize("web_url", ["https://www.credly.com", "https://www.credly.com/"])
def test_web_url_has_no_double_slash(web_url: str) -> None:
    (entry,) = _entries(_item([CERT], web_url=web_url), "certifications")

    assert entry["webUrl"] == "https://www.credly.com/badges/b-0001"


def test_entries_are_newest_first_then_by_badge_id() -> None:
    day = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)
    badges = [
        make_badge(id="c", issued_at=day),
        make_badge(id="a", issued_at=day + timedelta(hours=10)),
        make_badge(id="d", issued_at=day + timedelta(days=2)),
        make_badge(id="b", issued_at=day - timedelta(days=300)),
        make_badge(id="e", issued_at=day, certification=False),
        make_badge(id="f", issued_at=day + timedelta(days=1), certification=False),
    ]

    item = _item(badges)

    assert [e["certificationId"] for e in _entries(item, "certifications")] == ["d", "a", "c", "b"]
    assert [e["webUrl"][-1] for e in _entries(item, "awards")] == ["f", "e"]


def test_input_order_does_not_change_the_item() -> None:
    badges = [
        make_badge(id=f"b{n}", issued_at=datetime(2025, 1, n % 5 + 1, tzinfo=UTC)) for n in range(9)
    ]

    forward = _item(badges)
    backward = _item(list(reversed(badges)))

    assert forward == backward
    assert item_content_hash(forward) == item_content_hash(backward)


def test_duplicate_badge_ids_are_composed_once() -> None:
    item = _item([CERT, CERT, make_badge(template_name="Other spelling")])

    assert [e["displayName"] for e in _entries(item, "certifications")] == [
        "Azure Administrator Associate"
    ]


def test_skills_are_distinct_ignoring_case_and_sorted() -> None:
    badges = [
        make_badge(id="new", issued_at=datetime(2025, 6, 1, tzinfo=UTC), skills=("python", "Zed")),
        make_badge(
            id="old", issued_at=datetime(2020, 1, 1, tzinfo=UTC), skills=("Python", "agile")
        ),
        make_badge(id="mid", issued_at=datetime(2023, 1, 1, tzinfo=UTC), skills=("Ärger", "ZED")),
    ]

    item = _item(badges)

    assert _entries(item, "skills") == [
        {"displayName": "agile"},
        {"displayName": "python"},
        {"displayName": "Zed"},
        {"displayName": "Ärger"},
    ]


def test_skills_are_empty_when_not_indexed() -> None:
    item = _item([CERT, AWARD], index_skills=False)

    assert item["properties"]["skills"] == []
    assert item["properties"]["skills@odata.type"] == "Collection(String)"


def test_non_ascii_account_information_is_annotated_as_string() -> None:
    user = make_user(user_principal_name="zoë.núñez@contoso.com")

    composed = compose_item_report(user, [CERT], web_url=SITE, index_skills=True)

    assert composed is not None
    item = composed.item
    assert (
        item["properties"]["accountInformation"] == '{"userPrincipalName":"zoë.núñez@contoso.com"}'
    )
    assert item["properties"]["accountInformation@odata.type"] == "String"


def test_non_ascii_entries_are_kept_unescaped() -> None:
    badge = make_badge(template_name="クラウド基礎", description="שארה 🎓", issuing_authority="Zoë")

    item = _item([badge])

    assert item["properties"]["certifications"][0].count("クラウド基礎") == 1
    assert _entries(item, "certifications")[0]["description"] == "שארה 🎓"


def test_no_badges_means_no_item() -> None:
    assert compose_item_report(USER, [], web_url=SITE, index_skills=True) is None
    assert compose_item_report(USER, iter([]), web_url=SITE, index_skills=True) is None


def test_item_id_for_removes_dashes() -> None:
    assert item_id_for("6e2f0c1a-9b3d-4e5f-8a7b-6c5d4e3f2a1b") == "6e2f0c1a9b3d4e5f8a7b6c5d4e3f2a1b"


def test_content_hash_is_sha256_of_canonical_json() -> None:
    composed = compose_item_report(USER, [CERT, AWARD], web_url=SITE, index_skills=True)

    assert composed is not None
    canonical = json.dumps(composed.item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert composed.content_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert composed.content_hash == item_content_hash(composed.item)
    assert composed.dropped_entries == 0


def test_content_hash_changes_when_a_badge_changes() -> None:
    before = item_content_hash(_item([CERT, AWARD]))

    after = item_content_hash(_item([make_badge(template_name="Renamed"), AWARD]))

    assert before != after


def test_oldest_entries_are_dropped_to_fit_the_size_limit() -> None:
    badges = [
        make_badge(
            id=f"b{n:03d}",
            issued_at=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=n),
            certification=n % 2 == 0,
            skills=(f"skill {n}",),
        )
        for n in range(40)
    ]
    full = compose_item_report(USER, badges, web_url=SITE, index_skills=True)
    assert full is not None
    limit = item_size(full.item) // 2

    composed = compose_item_report(USER, badges, web_url=SITE, index_skills=True, max_bytes=limit)

    assert composed is not None
    assert item_size(composed.item) <= limit
    kept = [
        e["webUrl"].rsplit("/", 1)[1]
        for name in ("certifications", "awards")
        for e in _entries(composed.item, name)
    ]
    assert 0 < composed.dropped_entries < 40
    assert sorted(kept) == [f"b{n:03d}" for n in range(composed.dropped_entries, 40)]
    # Skills of dropped badges go too.
    assert len(_entries(composed.item, "skills")) == 40 - composed.dropped_entries
    # One more entry would not have fitted.
    bigger = compose_item_report(
        USER, badges[composed.dropped_entries - 1 :], web_url=SITE, index_skills=True
    )
    assert bigger is not None
    assert item_size(bigger.item) > limit


def test_a_real_profile_beyond_four_megabytes_is_cut_to_fit() -> None:
    description = "界" * 2000  # every character costs six bytes once ASCII-escaped
    badges = [
        make_badge(
            id=f"b{n:04d}",
            issued_at=datetime(2015, 1, 1, tzinfo=UTC) + timedelta(days=n),
            description=description,
        )
        for n in range(400)
    ]

    composed = compose_item_report(USER, badges, web_url=SITE, index_skills=True)

    assert composed is not None
    assert 0 < composed.dropped_entries < 400
    assert item_size(composed.item) <= MAX_ITEM_BYTES
    assert len(json.dumps(composed.item, ensure_ascii=False).encode()) <= MAX_ITEM_BYTES
    newest = _entries(composed.item, "certifications")[0]
    assert newest["certificationId"] == "b0399"


def test_people_schema_matches_the_labels() -> None:
    assert PEOPLE_SCHEMA == [
        {"name": "accountInformation", "type": "string", "labels": ["personAccount"]},
        {"name": "certifications", "type": "stringCollection", "labels": ["personCertifications"]},
        {"name": "awards", "type": "stringCollection", "labels": ["personAwards"]},
        {"name": "skills", "type": "stringCollection", "labels": ["personSkills"]},
    ]


def test_every_schema_property_is_in_the_item() -> None:
    item = _item([CERT])

    assert {p["name"] for p in PEOPLE_SCHEMA} <= set(item["properties"])


def test_the_everyone_acl_names_the_tenant_as_graph_documents() -> None:
    tenant = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"

    composed = compose_item_report(USER, [CERT], web_url=SITE, index_skills=True, tenant_id=tenant)
    bare = compose_item_report(USER, [CERT], web_url=SITE, index_skills=True)

    assert composed is not None
    assert bare is not None
    assert composed.item["acl"] == [{"type": "everyone", "value": tenant, "accessType": "grant"}]
    # The ACL is part of the content hash: items written with the bare literal are rewritten.
    assert composed.content_hash != bare.content_hash
