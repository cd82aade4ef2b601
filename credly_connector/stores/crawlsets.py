"""The recipients and users a crawl must recompose, collected while it runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from credly_connector.chunking import runs
from credly_connector.stores.tables import Tables, chunked, decode_key, encode_key, quote

ROLE = "crawlsets"
_EMAIL, _USER, _GROUP = "e:", "u:", "g:"
# Characters of JSON per group row: well within a string property's 32K characters.
_GROUP_CHARS = 30_000


@dataclass(frozen=True)
class CrawlSet:
    """Emails whose badges changed and users whose directory entry changed."""

    emails: frozenset[str]
    user_ids: frozenset[str]


class CrawlSetStore:
    """One partition per crawl; adding a member twice is harmless."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._tables = tables

    def add_emails(self, crawl_id: str, emails: Iterable[str], *, group: str = "") -> int:
        """Remember emails whose badges changed in this crawl.

        Args:
            crawl_id: The crawl (or pending set) the emails join.
            emails: The emails.
            group: Store them as a few rows named after `group` (e.g. a page) instead of a
                row each: far fewer rows for a crawl's many emails. Members of a group row
                cannot be `remove`d one by one (pending sets do not use groups).
        """
        if not group:
            return self._add(crawl_id, _EMAIL, emails)
        values = sorted(set(emails))
        entities = []
        for chunk in runs(values, size=lambda v: len(json.dumps(v)) + 1, budget=_GROUP_CHARS):
            text = json.dumps(chunk)
            digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
            # Named by content: a redelivery that finds fewer changes adds a row, and never
            # replaces the one naming the emails it no longer sees as changed.
            key = f"{_GROUP}{encode_key(group)}:{digest}"
            entities.append({"PartitionKey": crawl_id, "RowKey": key, "emails": text})
        self._tables.upsert_many(ROLE, entities)
        return len(values)

    def add_users(self, crawl_id: str, user_ids: Iterable[str]) -> int:
        """Remember users whose directory entry changed in this crawl."""
        return self._add(crawl_id, _USER, user_ids)

    def _add(self, crawl_id: str, prefix: str, values: Iterable[str]) -> int:
        entities = (
            {"PartitionKey": crawl_id, "RowKey": prefix + encode_key(v)}
            for v in sorted(set(values))
        )
        return self._tables.upsert_many(ROLE, entities)

    def remove(self, crawl_id: str, emails: Iterable[str], user_ids: Iterable[str]) -> int:
        """Forget some stored members of a set (each must be stored: read `members` first)."""
        keys = [_EMAIL + encode_key(e) for e in sorted(set(emails))]
        keys += [_USER + encode_key(u) for u in sorted(set(user_ids))]
        entities = ({"PartitionKey": crawl_id, "RowKey": key} for key in keys)
        for batch in chunked(entities):
            self._tables.table(ROLE).submit_transaction([("delete", e) for e in batch])
        return len(keys)

    def members(self, crawl_id: str) -> CrawlSet:
        """Everything remembered for a crawl."""
        emails: set[str] = set()
        users: set[str] = set()
        query = f"PartitionKey eq {quote(crawl_id)}"
        rows = self._tables.table(ROLE).query_entities(query, select=["RowKey", "emails"])
        for entity in rows:
            key = str(entity["RowKey"])
            if key.startswith(_GROUP):
                emails.update(json.loads(entity.get("emails") or "[]"))
            elif key.startswith(_EMAIL):
                emails.add(decode_key(key[len(_EMAIL) :]))
            elif key.startswith(_USER):
                users.add(decode_key(key[len(_USER) :]))
        return CrawlSet(frozenset(emails), frozenset(users))
