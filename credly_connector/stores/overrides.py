"""Identity overrides: an admin's mapping of a Credly recipient email to an Entra user's UPN."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.stores.tables import Tables, encode_key, from_iso, quote, to_iso

ROLE = "overrides"
PARTITION = "override"


@dataclass(frozen=True)
class OverrideRecord:
    """One override, with who set it and when.

    Attributes:
        email: The recipient email (normalised: trimmed, lower-case).
        user_principal_name: The Entra user the email's badges belong to.
        set_by: Who set it (`cli:<account>`, a signed-in principal, or `http`).
        set_at: When it was set (UTC).
    """

    email: str
    user_principal_name: str
    set_by: str
    set_at: datetime

    def to_json(self) -> dict[str, str]:
        """The override as the ops routes and the CLI show it."""
        return {
            "email": self.email,
            "userPrincipalName": self.user_principal_name,
            "setBy": self.set_by,
            "setAt": to_iso(self.set_at),
        }


def _to_entity(record: OverrideRecord) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": encode_key(record.email),
        "email": record.email,
        "upn": record.user_principal_name,
        "set_by": record.set_by,
        "set_at": to_iso(record.set_at),
    }


def _from_entity(entity: Any) -> OverrideRecord:
    set_at = from_iso(entity.get("set_at"))
    assert set_at is not None
    return OverrideRecord(
        email=str(entity["email"]),
        user_principal_name=str(entity["upn"]),
        set_by=str(entity.get("set_by", "")),
        set_at=set_at,
    )


class OverrideStore:
    """All overrides in one small partition, read whole whenever an identity index is built.

    The table may be missing in a deployment that predates overrides: reads then find none,
    and the first write creates it.
    """

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._tables = tables
        self._table = tables.table(ROLE)

    def get(self, email: str) -> OverrideRecord | None:
        """The override of a normalised email, if any."""
        try:
            return _from_entity(self._table.get_entity(PARTITION, encode_key(email)))
        except ResourceNotFoundError:
            return None

    def put(self, record: OverrideRecord) -> None:
        """Store (or replace) an override."""
        try:
            self._table.upsert_entity(_to_entity(record), mode=UpdateMode.REPLACE)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                self._tables.service.create_table(self._tables.name(ROLE))
            self._table.upsert_entity(_to_entity(record), mode=UpdateMode.REPLACE)

    def delete(self, email: str) -> OverrideRecord | None:
        """Remove the override of an email; returns the removed one (None when there was none)."""
        existing = self.get(email)
        if existing is not None:
            with contextlib.suppress(ResourceNotFoundError):
                self._table.delete_entity(PARTITION, encode_key(email))
        return existing

    def records(self) -> Iterator[OverrideRecord]:
        """Every override, ordered by email key."""
        query = f"PartitionKey eq {quote(PARTITION)}"
        try:
            for entity in self._table.query_entities(query):
                yield _from_entity(entity)
        except ResourceNotFoundError:
            return

    def mapping(self) -> dict[str, str]:
        """Email to UPN for every override (what `DirectoryIndex` consults first)."""
        return {record.email: record.user_principal_name for record in self.records()}
