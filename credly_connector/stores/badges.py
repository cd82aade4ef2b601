"""The badge store: every known badge, one partition per recipient email.

All badges of one email are one partition read, which is what composing a person needs.
Each row keeps the badge's content hash so an unchanged badge is never rewritten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.rules.badges import Badge
from credly_connector.stores.tables import Tables, decode_key, dumps, encode_key, loads, quote

ROLE = "badges"


class Change(Enum):
    """What an upsert did."""

    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class BadgeKey:
    """Where a badge row lives."""

    email: str
    badge_id: str

    def digest(self) -> str:
        """A short stable digest of the key (what page checkpoints remember as seen)."""
        raw = f"{self.email}\n{self.badge_id}".encode()
        return hashlib.blake2b(raw, digest_size=8).hexdigest()


@dataclass(frozen=True)
class Upserted:
    """The outcome of an upsert, with the badge it replaced (for the expiry index)."""

    change: Change
    previous: Badge | None


def _to_entity(badge: Badge, content_hash: str) -> dict[str, Any]:
    return {
        "PartitionKey": encode_key(badge.recipient_email),
        "RowKey": badge.id,
        "organization_id": badge.organization_id,
        "hash": content_hash,
        "data": dumps(badge.to_record()),
    }


def _badge(entity: Any) -> Badge:
    return Badge.from_record(loads(entity["data"], {}))


class BadgeStore:
    """Badge rows keyed by (recipient email, badge id)."""

    def __init__(self, tables: Tables) -> None:
        self._table = tables.table(ROLE)

    def upsert(self, badge: Badge) -> Upserted:
        """Write a badge unless the stored row has the same content."""
        outcome = self.compare(badge)
        if outcome.change is not Change.UNCHANGED:
            self.write(badge)
        return outcome

    def compare(self, badge: Badge) -> Upserted:
        """What writing `badge` would change (one point read, no write)."""
        try:
            entity = self._table.get_entity(encode_key(badge.recipient_email), badge.id)
        except ResourceNotFoundError:
            return Upserted(Change.NEW, None)
        if entity.get("hash") == badge.content_hash():
            return Upserted(Change.UNCHANGED, None)
        return Upserted(Change.UPDATED, _badge(entity))

    def write(self, badge: Badge) -> None:
        """Store a badge row as it is (replacing any stored row of the same key)."""
        self._table.upsert_entity(_to_entity(badge, badge.content_hash()), mode=UpdateMode.REPLACE)

    def badges_of(self, email: str) -> list[Badge]:
        """Every stored badge of one recipient email."""
        query = f"PartitionKey eq {quote(encode_key(email))}"
        return [_badge(e) for e in self._table.query_entities(query)]

    def get(self, email: str, badge_id: str) -> Badge | None:
        """One stored badge."""
        try:
            return _badge(self._table.get_entity(encode_key(email), badge_id))
        except ResourceNotFoundError:
            return None

    def find(self, badge_id: str) -> list[Badge]:
        """Every stored row of one badge id, whatever its recipient email.

        Normally one row at most; two after Credly moved the badge to another email and only
        an incremental crawl has seen it since. A query across partitions: for single badges
        refreshed by webhook events, never for crawls.
        """
        query = f"RowKey eq {quote(badge_id)}"
        return [_badge(e) for e in self._table.query_entities(query)]

    def delete(self, key: BadgeKey) -> None:
        """Forget a badge (idempotent)."""
        self._table.delete_entity(encode_key(key.email), key.badge_id)

    def scan(self) -> Iterator[Badge]:
        """Every stored badge, read lazily page by page (a scan: reports only)."""
        for entity in self._table.list_entities(select=["data"]):
            yield _badge(entity)

    def keys(self, organization_id: str) -> Iterator[BadgeKey]:
        """The key of every stored badge of an organisation (a scan: full crawls only)."""
        query = f"organization_id eq {quote(organization_id)}"
        for entity in self._table.query_entities(query, select=["PartitionKey", "RowKey"]):
            yield BadgeKey(decode_key(str(entity["PartitionKey"])), str(entity["RowKey"]))

    def any_of(self, organization_id: str) -> bool:
        """Whether any badge of the organisation is stored (stops at the first match)."""
        query = f"organization_id eq {quote(organization_id)}"
        found = self._table.query_entities(query, select=["RowKey"], results_per_page=1)
        return next(iter(found), None) is not None

    def keys_outside(self, organization_ids: Collection[str]) -> Iterator[BadgeKey]:
        """The keys of badges of organisations no longer configured (a scan: full crawls only)."""
        query = " and ".join(f"organization_id ne {quote(org)}" for org in organization_ids)
        for entity in self._table.query_entities(query, select=["PartitionKey", "RowKey"]):
            yield BadgeKey(decode_key(str(entity["PartitionKey"])), str(entity["RowKey"]))
