"""Batched writes against Azurite: transactions by partition, group rows of a crawl set,
badges written and moved, and which expiries are indexed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from credly_connector.stores.badges import BadgeKey, BadgeStore
from credly_connector.stores.crawlsets import CrawlSetStore
from credly_connector.stores.expiries import ExpiryStore, may_show
from credly_connector.stores.tables import (
    ENTITY_OVERHEAD_BYTES,
    TRANSACTION_LIMIT,
    Tables,
    entity_size,
    transactions,
)
from tests.rules.builders import BASE_BADGE

ORG = BASE_BADGE.organization_id
EXPIRES = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = (EXPIRES - timedelta(days=1), EXPIRES + timedelta(days=1))


def _row(partition: str, row: str, size: int = 10) -> dict[str, str]:
    return {"PartitionKey": partition, "RowKey": row, "data": "x" * size}


def test_transactions_group_by_partition_and_respect_count_and_size() -> None:
    rows = [_row("a", f"r{i}") for i in range(150)] + [_row("b", "r0"), _row("a", "big", 5000)]

    groups = list(transactions(rows, budget=20_000))

    assert all(len({r["PartitionKey"] for r in g}) == 1 for g in groups)
    assert all(len(g) <= TRANSACTION_LIMIT for g in groups)
    assert sum(len(g) for g in groups) == len(rows)
    assert all(sum(len(json.dumps(r)) + 600 for r in g) <= 20_000 or len(g) == 1 for g in groups)


def test_a_repeated_key_is_written_once_with_its_last_value() -> None:
    rows = [_row("a", "r1", 1), _row("a", "r2"), _row("a", "r1", 3)]

    (group,) = transactions(rows)

    assert [(r["RowKey"], r["data"]) for r in group] == [("r1", "xxx"), ("r2", "x" * 10)]


def test_group_rows_keep_every_email_a_redelivery_no_longer_sees(tables: Tables) -> None:
    sets = CrawlSetStore(tables)
    sets.add_emails("c1", ["a@x.com", "b@x.com"], group="page-1")
    # The redelivered page found b's row written already: only a changed, as it sees it.
    sets.add_emails("c1", ["a@x.com"], group="page-1")
    sets.add_emails("c1", ["c@x.com"])

    assert sets.members("c1").emails == {"a@x.com", "b@x.com", "c@x.com"}


def test_a_large_group_is_split_over_rows_and_read_back_whole(tables: Tables) -> None:
    sets = CrawlSetStore(tables)
    emails = {f"person.{i:05d}.{'y' * 200}@example.com" for i in range(400)}

    sets.add_emails("c2", emails, group="page-9")

    rows = list(tables.table("crawlsets").query_entities("PartitionKey eq 'c2'"))
    assert len(rows) > 1
    assert sets.members("c2").emails == emails


def test_a_page_of_badges_is_one_partition_read_back_by_email_and_range(tables: Tables) -> None:
    store = BadgeStore(tables, [ORG])
    badges = [
        replace(BASE_BADGE, id=f"b{i}", recipient_email=f"user{i % 3}@contoso.com")
        for i in range(9)
    ]

    assert store.write_many(badges) == 9

    assert {b.id for b in store.badges_of("user1@contoso.com")} == {"b1", "b4", "b7"}
    span = store.in_range(
        BadgeStore.row_prefix("user0@contoso.com"), BadgeStore.row_prefix("user2@contoso.com")
    )
    assert set(span) == {"user0@contoso.com", "user1@contoso.com"}
    assert store.badges_of("user1@contoso.co") == []  # a prefix is another email


def test_a_badge_moved_to_another_email_names_its_old_row_until_that_goes(tables: Tables) -> None:
    store = BadgeStore(tables, [ORG])
    old = replace(BASE_BADGE, id="moving", recipient_email="old@contoso.com")
    store.write_many([old])
    moved = replace(old, recipient_email="new@contoso.com")

    assert store.moved_from(moved) == old
    store.delete(BadgeKey.of(old))
    store.write_many([moved])

    assert store.moved_from(moved) is None
    assert store.find("moving", ORG) == [moved]


def test_only_badges_that_may_be_shown_are_indexed_by_expiry(tables: Tables) -> None:
    expiries = ExpiryStore(tables)
    shown = replace(BASE_BADGE, id="shown", expires_at=EXPIRES)
    private = replace(shown, id="private", public=False, recipient_email="p@contoso.com")
    revoked = replace(shown, id="revoked", state="revoked", recipient_email="r@contoso.com")

    expiries.track_many([(shown, None), (private, None), (revoked, None)])

    assert [may_show(b) for b in (shown, private, revoked)] == [True, False, False]
    assert expiries.emails_expiring(ORG, *WINDOW) == {shown.recipient_email}
    # Made private later: its entry goes.
    expiries.track_many([(replace(shown, public=False), shown)])
    assert expiries.emails_expiring(ORG, *WINDOW) == set()


@pytest.mark.parametrize(
    "value",
    ["plain", "ünïcödé", "emoji \U0001f600\U0001f680", 'quote " back \\ slash', "x" * 5000],
)
def test_an_entity_never_weighs_less_than_it_sends(value: str) -> None:
    entity = {"PartitionKey": "p", "RowKey": "r", "n": 7, "f": 1.5, "text": value}

    assert entity_size(entity) >= len(json.dumps(entity)) + ENTITY_OVERHEAD_BYTES


def test_a_large_entity_is_weighed_exactly() -> None:
    entity = {"PartitionKey": "p", "RowKey": "r", "data": "x" * 40_000}

    assert entity_size(entity) == len(json.dumps(entity)) + ENTITY_OVERHEAD_BYTES
