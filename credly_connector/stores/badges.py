"""The badge store: every known badge, one partition per Credly organisation.

A row's key is the recipient email then the badge id, so the badges of one email are one
range of its organisation's partition, and a page of badges (one organisation) is written
in one or two transactions instead of one request per badge. Each row keeps the badge's
content hash so an unchanged badge is never rewritten. Emails with rows are marked
(`stores/badge_marks.py`).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from credly_connector.rules.badges import Badge
from credly_connector.stores.badge_marks import EmailMarks, mark_entities
from credly_connector.stores.tables import (
    Tables,
    decode_key,
    dumps,
    encode_key,
    loads,
    quote,
    range_query,
    windows,
)

ROLE = "badges"
# Per organisation and badge id, the email its row is under: finds the row a moved badge left.
IDS_ROLE = "badgeids"
# Between a row key's email and badge id. `encode_key` only writes '%' before two hex
# digits or 'u', so "%!" never occurs inside an encoded email; '"' is the next character,
# which bounds an email's range.
_SEPARATOR = "%!"
_RANGE_END = '%"'
# Where the windows of a walk of an organisation's rows meet (first characters of emails).
EMAIL_SPLITS = ("0", "a", "d", "g", "j", "m", "p", "s", "v", "y")


class Change(Enum):
    """What an upsert did."""

    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class BadgeKey:
    """Where a badge row lives."""

    organization_id: str
    email: str
    badge_id: str

    @classmethod
    def of(cls, badge: Badge) -> BadgeKey:
        """The key of a badge's row."""
        return cls(badge.organization_id, badge.recipient_email, badge.id)

    @classmethod
    def from_row(cls, organization_id: str, row_key: str) -> BadgeKey:
        """The key of the row `row_key` of an organisation's partition."""
        email, _, badge_id = row_key.partition(_SEPARATOR)
        return cls(organization_id, decode_key(email), decode_key(badge_id))

    def row_key(self) -> str:
        """The row key: encoded email, separator, badge id."""
        return f"{encode_key(self.email)}{_SEPARATOR}{encode_key(self.badge_id)}"


@dataclass(frozen=True)
class Upserted:
    """The outcome of an upsert, with the badge it replaced (for the expiry index)."""

    change: Change
    previous: Badge | None


def _to_entity(badge: Badge) -> dict[str, Any]:
    return {
        "PartitionKey": badge.organization_id,
        "RowKey": BadgeKey.of(badge).row_key(),
        "badge_id": badge.id,
        "organization_id": badge.organization_id,
        "hash": badge.content_hash(),
        "data": dumps(badge.to_record()),
    }


def _id_entity(badge: Badge) -> dict[str, Any]:
    return {
        "PartitionKey": badge.organization_id,
        "RowKey": encode_key(badge.id),
        "email": badge.recipient_email,
    }


def _badge(entity: Any) -> Badge:
    return Badge.from_record(loads(entity["data"], {}))


def _key(entity: Any) -> BadgeKey:
    return BadgeKey.from_row(str(entity["PartitionKey"]), str(entity["RowKey"]))


class BadgeStore:
    """Badge rows keyed by (organisation, recipient email, badge id).

    Args:
        organizations: The configured organisations: the ones whose badges make a person's
            item (`badges_of`). Rows of an organisation removed from the settings stay until
            a full crawl sweeps them (`keys_outside`).
    """

    def __init__(self, tables: Tables, organizations: Collection[str]) -> None:
        """Keep rows in `tables`; `organizations` are those configured now."""
        self._tables = tables
        self._table = tables.table(ROLE)
        self._ids = tables.table(IDS_ROLE)
        self._organizations = tuple(organizations)
        self.marks = EmailMarks(tables, IDS_ROLE)

    def compare(self, badge: Badge) -> Upserted:
        """What writing `badge` would change (one point read, no write)."""
        try:
            entity = self._table.get_entity(badge.organization_id, BadgeKey.of(badge).row_key())
        except ResourceNotFoundError:
            return Upserted(Change.NEW, None)
        if entity.get("hash") == badge.content_hash():
            return Upserted(Change.UNCHANGED, None)
        return Upserted(Change.UPDATED, _badge(entity))

    def write_many(self, badges: Iterable[Badge]) -> int:
        """Store badge rows as they are, in transactions (one per organisation and 100 rows).

        Each badge id's index entry names the email written, first (so a crash between the
        two leaves an entry naming a row that may not exist yet, never a row it omits).

        Returns:
            The number of rows written.
        """
        rows = list(badges)
        self.index_many(rows)
        return self.write_rows(rows)

    def index_many(self, badges: Iterable[Badge], *, mark: bool = True) -> int:
        """The badge-id index entries of `badges`, each naming its email (before the rows).

        With `mark`, the marks of their emails too, in the same transactions.
        """
        rows = list(badges)
        marks = mark_entities((b.organization_id, b.recipient_email) for b in rows) if mark else []
        return self._tables.upsert_many(IDS_ROLE, [*map(_id_entity, rows), *marks])

    def write_rows(self, badges: Iterable[Badge]) -> int:
        """The badge rows alone: their index entries must be written first (`index_many`)."""
        return self._tables.upsert_many(ROLE, (_to_entity(b) for b in badges))

    def moved_from(self, badge: Badge) -> Badge | None:
        """The stored row of the same badge id under another email, when the index names one.

        What a badge new under its email left behind when Credly moved it from another
        recipient email.
        """
        try:
            entry = self._ids.get_entity(badge.organization_id, encode_key(badge.id))
        except ResourceNotFoundError:
            return None
        email = str(entry.get("email", ""))
        if not email or email == badge.recipient_email:
            return None
        return self.get(BadgeKey(badge.organization_id, email, badge.id))

    def badges_of(self, email: str, *, probe: bool = False) -> list[Badge]:
        """Every stored badge of one recipient email, from every configured organisation.

        With `probe` (for emails that most often have none: a batch's addresses outside its
        range), an organisation whose emails are marked is queried only when the email's
        mark (a point read) is there.
        """
        found: list[Badge] = []
        for org in self._organizations:
            if not probe or not self.marks.complete(org) or self.marks.has(org, email):
                found += self._between(org, email, email).get(email, [])
        return found

    def _between(self, organization_id: str, first: str, last: str) -> dict[str, list[Badge]]:
        """The badges of the emails from `first` to `last` in one organisation: one query."""
        low = encode_key(first) + _SEPARATOR
        high = encode_key(last) + _RANGE_END
        found: dict[str, list[Badge]] = {}
        for entity in self._table.query_entities(range_query(organization_id, low, high)):
            found.setdefault(_key(entity).email, []).append(_badge(entity))
        return found

    @staticmethod
    def row_prefix(email: str) -> str:
        """Where an email's rows begin: every row key from here to the next email's is its."""
        return encode_key(email) + _SEPARATOR

    def in_range(self, start: str, stop: str) -> dict[str, list[Badge]]:
        """The stored badges of every configured organisation with row keys in [start, stop).

        `start` and `stop` are `row_prefix` values ('' = unbounded), so whole emails fall on
        one side. One range query per organisation.
        """
        found: dict[str, list[Badge]] = {}
        for organization_id in self._organizations:
            for entity in self._table.query_entities(range_query(organization_id, start, stop)):
                found.setdefault(_key(entity).email, []).append(_badge(entity))
        return found

    def get(self, key: BadgeKey) -> Badge | None:
        """One stored badge."""
        try:
            return _badge(self._table.get_entity(key.organization_id, key.row_key()))
        except ResourceNotFoundError:
            return None

    def find(self, badge_id: str, organization_id: str | None = None) -> list[Badge]:
        """Every stored row of one badge id, whatever its recipient email.

        Normally one row at most; two after Credly moved the badge to another email and only
        an incremental crawl has seen it since. A scan of the organisation's partition (or of
        the table): for single badges refreshed by webhook events, never for crawls.
        """
        query = f"badge_id eq {quote(badge_id)}"
        if organization_id is not None:
            query = f"PartitionKey eq {quote(organization_id)} and {query}"
        return [_badge(e) for e in self._table.query_entities(query)]

    def delete(self, key: BadgeKey) -> None:
        """Forget a badge row (idempotent), and its id's index entry when that names it."""
        with contextlib.suppress(ResourceNotFoundError):
            self._table.delete_entity(key.organization_id, key.row_key())
        try:
            entry = self._ids.get_entity(key.organization_id, encode_key(key.badge_id))
        except ResourceNotFoundError:
            return
        if entry.get("email") == key.email:
            with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
                self._ids.delete_entity(
                    entry,
                    etag=entry.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )

    def scan(self) -> Iterator[Badge]:
        """Every stored badge, read lazily page by page (a scan: reports only)."""
        for entity in self._table.list_entities(select=["data"]):
            yield _badge(entity)

    def keys(self, organization_id: str, start: str = "") -> Iterator[BadgeKey]:
        """The keys of an organisation's stored badges in row order, from row key `start` on.

        Read lazily a query page at a time (full crawls walk their organisation with it), in
        windows between `EMAIL_SPLITS` (see `stores.tables.windows`).
        """
        for low, high in windows(start, EMAIL_SPLITS):
            query = range_query(organization_id, low, high)
            for entity in self._table.query_entities(query, select=["PartitionKey", "RowKey"]):
                yield _key(entity)

    def any_of(self, organization_id: str) -> bool:
        """Whether any badge of the organisation is stored (stops at the first match)."""
        query = range_query(organization_id)
        found = self._table.query_entities(query, select=["RowKey"], results_per_page=1)
        return next(iter(found), None) is not None

    def stored_more_than(self, organization_id: str, count: int) -> bool:
        """Whether more than `count` badges of the organisation are stored.

        One query page when `count` is below the service's page size (1,000), which is when
        callers ask; larger counts read as many pages as they need.
        """
        query = range_query(organization_id)
        found = self._table.query_entities(query, select=["RowKey"], results_per_page=count + 1)
        return sum(1 for _ in itertools.islice(found, count + 1)) > count

    def keys_outside(self, organization_ids: Collection[str]) -> Iterator[BadgeKey]:
        """The keys of badges of organisations no longer configured (a scan: full crawls only)."""
        query = " and ".join(f"PartitionKey ne {quote(org)}" for org in organization_ids)
        for entity in self._table.query_entities(query, select=["PartitionKey", "RowKey"]):
            yield _key(entity)
