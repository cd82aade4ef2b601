"""The stores' tests: the connector's tables on the session's Azurite, under a fresh name."""

from __future__ import annotations

import pytest

from credly_connector.stores.tables import Tables
from devstack.azurite import Azurite


@pytest.fixture
def tables(azurite: Azurite, storage_name: str) -> Tables:
    tables = Tables.from_connection_string(azurite.connection_string, storage_name)
    tables.ensure()
    return tables
