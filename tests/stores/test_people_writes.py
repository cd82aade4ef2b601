"""Person rows written conditionally on the version read, against Azurite."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credly_connector.stores.people import GONE, PersonRecord, PersonStore, PersonWrite
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite

WRITTEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def people(azurite: Azurite, storage_name: str) -> PersonStore:
    tables = Tables.from_connection_string(azurite.connection_string, storage_name)
    tables.ensure()
    return PersonStore(tables)


def _record(user_id: str, content_hash: str = "h1") -> PersonRecord:
    return PersonRecord(user_id, user_id.replace("-", ""), content_hash, f"{user_id}@x", WRITTEN)


def test_rows_read_unchanged_are_written_and_a_changed_one_is_refused_alone(
    people: PersonStore,
) -> None:
    # Given 30 people recorded, each read by a writer; then one recorded by someone else
    users = [f"u-{i:02d}" for i in range(30)]
    assert people.write_many([PersonWrite(_record(u), None) for u in users]) == []
    read = {u: people.read(u) for u in users}
    assert people.write_many([PersonWrite(_record("u-07", "other"), read["u-07"].etag)]) == []

    # When the writer records all of them against what it read
    refused = people.write_many([PersonWrite(_record(u, "h2"), read[u].etag) for u in users])

    # Then only the changed one is refused, and it keeps the other writer's record
    assert refused == ["u-07"]
    hashes = {r.user_id: r.content_hash for r in people.records()}
    assert hashes == {u: "other" if u == "u-07" else "h2" for u in users}


def test_creating_a_row_someone_created_meanwhile_is_refused(people: PersonStore) -> None:
    assert people.write_many([PersonWrite(_record("u-1", "theirs"), None)]) == []

    refused = people.write_many([PersonWrite(_record("u-1", "mine"), None)])

    assert refused == ["u-1"]
    record = people.get("u-1")
    assert record is not None
    assert record.content_hash == "theirs"


def test_a_tombstone_means_no_item_but_keeps_the_version(people: PersonStore) -> None:
    # Given a person whose item was deleted (a tombstone), read before it was recorded
    assert people.write_many([PersonWrite(_record("u-1"), None)]) == []
    before = people.read("u-1")
    assert people.write_many([PersonWrite(_record("u-1", GONE), before.etag)]) == []

    # Then the person has no item, yet a writer that read the row before is refused,
    # and so is one that read no row at all
    after = people.read("u-1")
    assert after.record is None
    assert after.etag is not None
    assert people.get("u-1") is None
    assert list(people.user_ids()) == []
    assert list(people.records()) == []
    assert people.write_many([PersonWrite(_record("u-1", "stale"), before.etag)]) == ["u-1"]
    assert people.write_many([PersonWrite(_record("u-1", "stale"), None)]) == ["u-1"]
    assert people.write_many([PersonWrite(_record("u-1", "h3"), after.etag)]) == []
    assert list(people.user_ids()) == ["u-1"]
