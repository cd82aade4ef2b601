"""The crawl lease against Azurite: one holder, expiry takeover, renewal, release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credly_connector.stores.leases import LeaseStore
from credly_connector.stores.tables import Tables, decode_key, encode_key
from devstack.azurite import Azurite

NOW = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def leases(azurite: Azurite, storage_name: str) -> LeaseStore:
    tables = Tables.from_connection_string(azurite.connection_string, storage_name)
    tables.ensure()
    return LeaseStore(tables)


def test_a_held_lease_refuses_another_crawl(leases: LeaseStore) -> None:
    assert leases.acquire("org", "a", NOW, HOUR).acquired

    refused = leases.acquire("org", "b", NOW + timedelta(minutes=59), HOUR)

    assert not refused.acquired
    assert refused.lease is not None
    assert refused.lease.holder == "a"


def test_an_expired_lease_is_taken_over_and_names_the_previous_holder(leases: LeaseStore) -> None:
    leases.acquire("org", "a", NOW, HOUR)

    taken = leases.acquire("org", "b", NOW + HOUR, HOUR)

    assert taken.acquired
    assert taken.taken_over == "a"
    assert not leases.renew("org", "a", NOW + HOUR, HOUR)


def test_a_lease_whose_holder_ended_is_taken_before_it_expires(leases: LeaseStore) -> None:
    leases.acquire("org", "a", NOW, HOUR)
    soon = NOW + timedelta(minutes=1)

    refused = leases.acquire("org", "b", soon, HOUR, ended=lambda holder: holder == "b")
    taken = leases.acquire("org", "c", soon, HOUR, ended=lambda holder: holder == "a")

    assert not refused.acquired
    assert taken.acquired
    assert taken.taken_over == "a"
    assert not leases.renew("org", "a", soon, HOUR)


def test_renewal_extends_and_release_frees_only_for_the_holder(leases: LeaseStore) -> None:
    leases.acquire("org", "a", NOW, HOUR)
    assert leases.renew("org", "a", NOW + timedelta(minutes=50), HOUR)
    assert not leases.acquire("org", "b", NOW + timedelta(minutes=90), HOUR).acquired

    leases.release("org", "b")
    assert leases.current("org") is not None
    leases.release("org", "a")

    assert leases.current("org") is None
    assert leases.acquire("org", "b", NOW, HOUR).acquired


@pytest.mark.parametrize("value", ["a@b.com", "x/y#z?w%\\v", "tab\there", "ü@例え.jp"])
def test_keys_round_trip_and_never_hold_forbidden_characters(value: str) -> None:
    key = encode_key(value)

    assert decode_key(key) == value
    assert not set(key) & set("/\\#?\t")
