"""Shared fixtures: one Azurite per test session, and per-test storage names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devstack.azurite import Azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """The project's Azurite, started once for the session and stopped at its end."""
    with Azurite() as running:
        yield running


@pytest.fixture
def storage_name() -> str:
    """A fresh table/queue name (alphanumeric, starts with a letter) for one test."""
    return "t" + uuid.uuid4().hex[:20]
