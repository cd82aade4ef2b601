"""The expiry index against Azurite: a moved badge keeps its entry when the old row goes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from credly_connector.stores.expiries import ExpiryStore
from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite
from tests.rules.builders import BASE_BADGE

EXPIRES = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = (EXPIRES - timedelta(days=1), EXPIRES + timedelta(days=1))


@pytest.fixture
def expiries(azurite: Azurite, storage_name: str) -> ExpiryStore:
    tables = Tables.from_connection_string(azurite.connection_string, storage_name)
    tables.ensure()
    return ExpiryStore(tables)


def test_forgetting_a_removed_row_drops_its_entry(expiries: ExpiryStore) -> None:
    badge = replace(BASE_BADGE, expires_at=EXPIRES)
    expiries.track(badge)
    assert expiries.emails_expiring(BASE_BADGE.organization_id, *WINDOW) == {badge.recipient_email}

    expiries.forget(badge)
    expiries.forget(badge)  # idempotent

    assert expiries.emails_expiring(BASE_BADGE.organization_id, *WINDOW) == set()


def test_forgetting_the_old_row_of_a_moved_badge_keeps_the_new_rows_entry(
    expiries: ExpiryStore,
) -> None:
    # Given a badge whose recipient email changed: the new row is indexed after the old one.
    old = replace(BASE_BADGE, expires_at=EXPIRES)
    moved = replace(old, recipient_email="adele@personal.example")
    expiries.track(old)
    expiries.track(moved)

    # When the sweep forgets the old row.
    expiries.forget(old)

    # Then the new recipient is still due at the expiry.
    assert expiries.emails_expiring(BASE_BADGE.organization_id, *WINDOW) == {
        "adele@personal.example"
    }
