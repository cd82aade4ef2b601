"""Email marks: written with the rows, trusted only once the organisation is complete."""

from __future__ import annotations

from dataclasses import replace

from credly_connector.stores.badges import IDS_ROLE, BadgeStore
from credly_connector.stores.tables import Tables
from tests.rules.builders import BASE_BADGE

ORG = BASE_BADGE.organization_id


def test_rows_mark_their_emails_and_only_a_complete_organisation_trusts_the_marks(
    tables: Tables,
) -> None:
    store = BadgeStore(tables, [ORG])
    first = replace(BASE_BADGE, id="b1", recipient_email="a@contoso.com")
    second = replace(BASE_BADGE, id="b2", recipient_email="a@contoso.com")
    store.write_many([first, second])
    # A row stored before marks existed: the row alone, without its index entry or mark.
    legacy = replace(BASE_BADGE, id="b3", recipient_email="c@contoso.com")
    store.write_rows([legacy])

    assert store.marks.has(ORG, "a@contoso.com")
    assert not store.marks.has(ORG, "c@contoso.com")
    assert not store.marks.complete(ORG)
    # Not complete: a probe queries every organisation, and finds the unmarked row.
    assert store.badges_of("c@contoso.com", probe=True) == [legacy]

    store.marks.mark_complete(ORG)
    later = BadgeStore(tables, [ORG])  # nothing remembered from the first

    assert later.marks.complete(ORG)
    # Complete: a probe trusts the marks (so completeness may only follow a sweep) ...
    assert later.badges_of("c@contoso.com", probe=True) == []
    assert later.badges_of("c@contoso.com") == [legacy]
    assert {b.id for b in later.badges_of("a@contoso.com", probe=True)} == {"b1", "b2"}
    # ... and the marks are not badge-id entries: the moved badge's lookup is unchanged.
    moved = replace(first, recipient_email="new@contoso.com")
    assert later.moved_from(moved) == first


def test_marks_ride_with_the_index_entries_unless_left_to_the_plan(tables: Tables) -> None:
    store = BadgeStore(tables, [ORG])
    marked = replace(BASE_BADGE, id="m1", recipient_email="m@contoso.com")
    unmarked = replace(BASE_BADGE, id="u1", recipient_email="u@contoso.com")

    assert store.index_many([marked]) == 2  # its index entry and its email's mark
    assert store.index_many([unmarked], mark=False) == 1
    assert store.marks.mark(ORG, ["p@contoso.com", "p@contoso.com", "q@contoso.com"]) == 2

    rows = tables.table(IDS_ROLE).query_entities(f"PartitionKey eq '{ORG}'")
    assert sorted(str(r["RowKey"]) for r in rows) == [
        "%!m@contoso.com",
        "%!p@contoso.com",
        "%!q@contoso.com",
        "m1",
        "u1",
    ]
