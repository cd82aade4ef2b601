"""The preview store against Azurite: round trips, Table Storage's size limits, paging."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from credly_connector.rules.items import compose_item_report
from credly_connector.stores.people import PersonRecord
from credly_connector.stores.previews import (
    PART_CHARS,
    PersonPreview,
    PreviewStore,
    compare,
)
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite
from tests.rules.builders import BASE_BADGE, make_user

CRAWL = "8246000000000abcdef"
# Table Storage: 64 KiB per string property (UTF-16), 1 MiB per entity.
MAX_PROPERTY_UNITS = 32 * 1024
MAX_ENTITY_BYTES = 1024 * 1024


@pytest.fixture
def tables(azurite: Azurite, storage_name: str) -> Tables:
    tables = Tables.from_connection_string(azurite.connection_string, prefix=storage_name)
    tables.ensure()
    return tables


def _item(count: int, description: str = "Earners can administer Azure.") -> dict[str, Any]:
    user = make_user()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    badges = [
        replace(
            BASE_BADGE,
            id=f"b-{n:04d}",
            issued_at=start + timedelta(days=n),
            description=description,
            certification=n % 2 == 0,
        )
        for n in range(count)
    ]
    composed = compose_item_report(
        user, badges, web_url="https://www.credly.com", index_skills=False
    )
    assert composed is not None
    return composed.item


def _entries(item: dict[str, Any] | None) -> list[dict[str, str]]:
    properties = (item or {})["properties"]
    return [json.loads(v) for prop in ("certifications", "awards") for v in properties[prop]]


def _units(value: Any) -> int:
    return len(value.encode("utf-16-le")) // 2 if isinstance(value, str) else 8


def test_a_preview_comes_back_as_it_was_stored(tables: Tables) -> None:
    store = PreviewStore(tables)
    preview = PersonPreview(
        CRAWL,
        "0f6a3c1e-0000-4000-8000-000000000001",
        "update",
        "adele.vance@contoso.com",
        item=_item(3),
        badges_added=("b-0002",),
        badges_removed=("gone-1",),
        hash_changed=True,
    )

    store.put(preview)

    assert list(store.previews(CRAWL)) == [preview]
    assert list(store.previews("8246000000000fedcba")) == []


def test_an_item_larger_than_one_property_is_split_and_read_back_whole(tables: Tables) -> None:
    store = PreviewStore(tables)
    item = _item(60, description="Ünïcödé 🎓 " * 150)
    preview = PersonPreview(CRAWL, "u-1", "create", "a@contoso.com", item=item)
    assert len(json.dumps(item)) > 3 * PART_CHARS

    store.put(preview)

    assert list(store.previews(CRAWL)) == [preview]


def test_an_item_beyond_one_entity_keeps_its_newest_entries_and_says_how_many_it_left_out(
    tables: Tables,
) -> None:
    store = PreviewStore(tables)
    item = _item(400, description="שלום <b>é</b> 🎓 " * 120)
    ids = tuple(f"badge-{n:05d}-{'x' * 60}" for n in range(2000))
    preview = PersonPreview(CRAWL, "u-2", "create", "b@contoso.com", item=item, badges_added=ids)

    store.put(preview)

    [stored] = list(store.previews(CRAWL))
    kept = _entries(stored.item)
    assert 0 < len(kept) < 400
    assert stored.truncated_entries == 400 - len(kept)
    newest = sorted(_entries(item), key=lambda e: e["issuedDate"], reverse=True)[: len(kept)]
    assert sorted(e["issuedDate"] for e in kept) == sorted(e["issuedDate"] for e in newest)
    assert stored.badges_added == ids[: len(stored.badges_added)]
    assert stored.truncated_ids == len(ids) - len(stored.badges_added) > 0
    entity = tables.table("previews").get_entity(CRAWL, "u-2")
    assert max(_units(v) for v in entity.values()) <= MAX_PROPERTY_UNITS
    assert sum(2 * _units(v) + 2 * len(k) for k, v in entity.items()) < MAX_ENTITY_BYTES


def test_previews_are_read_a_page_at_a_time_by_user_id(tables: Tables) -> None:
    store = PreviewStore(tables)
    for n in range(5):
        store.put(PersonPreview(CRAWL, f"user-{n}", "unchanged", f"p{n}@contoso.com"))

    first = store.page(CRAWL, limit=2)
    second = store.page(CRAWL, limit=2, after=first.next_after)
    last = store.page(CRAWL, limit=2, after=second.next_after)

    pages = [first.previews, second.previews, last.previews]
    assert [[p.user_id for p in page] for page in pages] == [
        ["user-0", "user-1"],
        ["user-2", "user-3"],
        ["user-4"],
    ]
    assert last.next_after is None


def _written(*badge_ids: str, content_hash: str = "h-old") -> PersonRecord:
    return PersonRecord(
        user_id="u",
        item_id="u",
        content_hash=content_hash,
        user_principal_name="old@contoso.com",
        written_at=datetime(2026, 1, 1, tzinfo=UTC),
        badge_ids=badge_ids,
    )


@pytest.mark.parametrize(
    ("item", "content_hash", "previous", "expected"),
    [
        ({"id": "u"}, "h-new", None, ("create", ("a", "b"), ())),
        ({"id": "u"}, "h-new", _written("a", "c"), ("update", ("b",), ("c",))),
        ({"id": "u"}, "h-old", _written("a", "b"), ("unchanged", (), ())),
        (None, "", _written("a", "c"), ("delete", (), ("a", "c"))),
    ],
)
def test_a_preview_compares_the_composed_item_with_the_last_written_one(
    item: dict[str, Any] | None,
    content_hash: str,
    previous: PersonRecord | None,
    expected: tuple[str, tuple[str, ...], tuple[str, ...]],
) -> None:
    preview = compare(
        CRAWL,
        "u",
        item=item,
        content_hash=content_hash,
        badge_ids=("a", "b") if item else (),
        user_principal_name="new@contoso.com",
        previous=previous,
    )

    assert preview is not None
    assert (preview.action, preview.badges_added, preview.badges_removed) == expected
    assert preview.hash_changed == (expected[0] != "unchanged")


def test_no_item_before_and_none_after_is_no_preview() -> None:
    preview = compare(
        CRAWL,
        "u",
        item=None,
        content_hash="",
        badge_ids=(),
        user_principal_name="",
        previous=None,
    )

    assert preview is None
