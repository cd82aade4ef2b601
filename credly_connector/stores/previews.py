"""What a dry-run crawl would write for each person, and how that differs from the last write.

Table Storage caps a string property at 64 KiB (32,768 UTF-16 code units) and an entity at
1 MiB, while an item may reach 4 MB. A preview is therefore stored as ASCII-only JSON (one
code unit per character) cut into parts of `PART_CHARS`, at most `MAX_PARTS` of them per
entity. A preview larger than that keeps its newest badge entries and its first badge ids, and
says how many it left out (`truncated_entries`, `truncated_ids`): the page shows the count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from credly_connector.stores.people import PersonRecord
from credly_connector.stores.tables import Tables, decode_key, encode_key, quote

ROLE = "previews"


class PreviewAction(StrEnum):
    """What a real crawl would do to a person's item, against the last one written."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"


# In the order the preview shows them (ops/preview.py and preview/page.py read it).
ACTIONS: tuple[str, ...] = tuple(PreviewAction)
PART_CHARS = 32_000
MAX_PARTS = 14
MAX_DOCUMENT_CHARS = PART_CHARS * MAX_PARTS
MAX_ID_CHARS = 64_000
ENTRY_PROPERTIES = ("certifications", "awards")


@dataclass(frozen=True)
class PersonPreview:
    """One person's outcome in a dry run.

    Attributes:
        action: `create`, `update`, `delete` or `unchanged` against the last written item.
        item: The item a real crawl would write (None when it would delete the item).
        badges_added / badges_removed: Badge ids against the last written item.
        hash_changed: Whether the item differs from the last written one at all (an entry's
            text can change while the badge ids stay the same).
        truncated_entries / truncated_ids: What the store left out to respect its limits.
    """

    crawl_id: str
    user_id: str
    action: str
    user_principal_name: str
    item: dict[str, Any] | None = None
    badges_added: tuple[str, ...] = ()
    badges_removed: tuple[str, ...] = ()
    hash_changed: bool = False
    truncated_entries: int = 0
    truncated_ids: int = 0

    @property
    def changed(self) -> bool:
        """Whether a real crawl would write or delete this person's item."""
        return self.action != PreviewAction.UNCHANGED

    def to_json(self) -> dict[str, Any]:
        """The preview as the ops route shows it."""
        return {
            "userId": self.user_id,
            "userPrincipalName": self.user_principal_name,
            "action": self.action,
            "hashChanged": self.hash_changed,
            "badgesAdded": list(self.badges_added),
            "badgesRemoved": list(self.badges_removed),
            "item": self.item,
            "truncated": {"entries": self.truncated_entries, "badgeIds": self.truncated_ids},
        }


def compare(
    crawl_id: str,
    user_id: str,
    *,
    item: dict[str, Any] | None,
    content_hash: str,
    badge_ids: tuple[str, ...],
    user_principal_name: str,
    previous: PersonRecord | None,
) -> PersonPreview | None:
    """The preview of composing `item` where `previous` was last written; None if neither."""
    before = set(previous.badge_ids) if previous else set()
    if item is None:
        if previous is None:
            return None
        return PersonPreview(
            crawl_id,
            user_id,
            PreviewAction.DELETE,
            previous.user_principal_name,
            badges_removed=tuple(sorted(before)),
            hash_changed=True,
        )
    if previous is None:
        action = PreviewAction.CREATE
    elif previous.content_hash == content_hash:
        action = PreviewAction.UNCHANGED
    else:
        action = PreviewAction.UPDATE
    return PersonPreview(
        crawl_id,
        user_id,
        action,
        user_principal_name,
        item=item,
        badges_added=tuple(sorted(set(badge_ids) - before)),
        badges_removed=tuple(sorted(before - set(badge_ids))),
        hash_changed=action != PreviewAction.UNCHANGED,
    )


def _cap_ids(ids: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
    kept: list[str] = []
    used = 0
    for badge_id in ids:
        used += len(json.dumps(badge_id)) + 1
        if used > MAX_ID_CHARS:
            break
        kept.append(badge_id)
    return tuple(kept), len(ids) - len(kept)


def _document(preview: PersonPreview) -> str:
    doc = {
        "item": preview.item,
        "added": list(preview.badges_added),
        "removed": list(preview.badges_removed),
    }
    # ASCII only: one UTF-16 code unit per character, so parts can be cut anywhere.
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":"), sort_keys=True)


def _issued(entry: Any) -> str:
    try:
        value = json.loads(entry).get("issuedDate", "")
    except (TypeError, ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _without_oldest(item: dict[str, Any], excess: int) -> tuple[dict[str, Any], int]:
    """`item` without its oldest entries worth at least `excess` characters."""
    properties = dict(item.get("properties") or {})
    entries = [
        (_issued(value), name, position, value)
        for name in ENTRY_PROPERTIES
        for position, value in enumerate(properties.get(name) or [])
    ]
    entries.sort(key=lambda e: (e[0], e[1], -e[2]))
    dropped: set[tuple[str, int]] = set()
    freed = 0
    for _, name, position, value in entries:
        if freed >= excess:
            break
        dropped.add((name, position))
        freed += len(json.dumps(value)) + 1
    for name in ENTRY_PROPERTIES:
        if name in properties:
            values = properties[name]
            properties[name] = [v for i, v in enumerate(values) if (name, i) not in dropped]
    return {**item, "properties": properties}, len(dropped)


def fit(preview: PersonPreview) -> tuple[PersonPreview, str]:
    """`preview` trimmed to fit one entity (newest entries and first ids kept), and its JSON."""
    added, cut_added = _cap_ids(preview.badges_added)
    removed, cut_removed = _cap_ids(preview.badges_removed)
    fitted = replace(
        preview,
        badges_added=added,
        badges_removed=removed,
        truncated_ids=preview.truncated_ids + cut_added + cut_removed,
    )
    document = _document(fitted)
    while len(document) > MAX_DOCUMENT_CHARS and fitted.item is not None:
        trimmed, dropped = _without_oldest(fitted.item, len(document) - MAX_DOCUMENT_CHARS)
        # Nothing left to drop but still too large (a hostile non-entry field): no item.
        item = trimmed if dropped else None
        fitted = replace(fitted, item=item, truncated_entries=fitted.truncated_entries + dropped)
        document = _document(fitted)
    return fitted, document


def _to_entity(preview: PersonPreview) -> dict[str, Any]:
    fitted, document = fit(preview)
    parts = [document[i : i + PART_CHARS] for i in range(0, len(document), PART_CHARS)]
    entity: dict[str, Any] = {
        "PartitionKey": preview.crawl_id,
        "RowKey": encode_key(preview.user_id),
        "action": fitted.action,
        "upn": fitted.user_principal_name[:1000],
        "hash_changed": fitted.hash_changed,
        "truncated_entries": fitted.truncated_entries,
        "truncated_ids": fitted.truncated_ids,
        "parts": len(parts),
    }
    for number, part in enumerate(parts):
        entity[f"doc{number}"] = part
    return entity


def _from_entity(entity: Any) -> PersonPreview:
    document = "".join(str(entity[f"doc{n}"]) for n in range(int(entity.get("parts", 0))))
    doc = json.loads(document) if document else {}
    return PersonPreview(
        crawl_id=str(entity["PartitionKey"]),
        user_id=decode_key(str(entity["RowKey"])),
        action=str(entity["action"]),
        user_principal_name=str(entity.get("upn", "")),
        item=doc.get("item"),
        badges_added=tuple(doc.get("added", ())),
        badges_removed=tuple(doc.get("removed", ())),
        hash_changed=bool(entity.get("hash_changed", False)),
        truncated_entries=int(entity.get("truncated_entries", 0)),
        truncated_ids=int(entity.get("truncated_ids", 0)),
    )


@dataclass
class PreviewPage:
    """Some previews of a crawl and where the next ones start (None after the last)."""

    previews: list[PersonPreview] = field(default_factory=list)
    next_after: str | None = None


class PreviewStore:
    """One partition per dry-run crawl, one row per person (rewritten on redelivery)."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._table = tables.table(ROLE)

    def put(self, preview: PersonPreview) -> None:
        """Store (or replace) a person's preview, trimmed to the table's limits."""
        self._table.upsert_entity(_to_entity(preview))

    def previews(self, crawl_id: str) -> Iterator[PersonPreview]:
        """Every preview of a crawl, by user id."""
        query = f"PartitionKey eq {quote(crawl_id)}"
        for entity in self._table.query_entities(query):
            yield _from_entity(entity)

    def page(self, crawl_id: str, *, limit: int, after: str | None = None) -> PreviewPage:
        """Up to `limit` previews of a crawl by user id, starting after user `after`."""
        query = f"PartitionKey eq {quote(crawl_id)}"
        if after is not None:
            query += f" and RowKey gt {quote(encode_key(after))}"
        found = PreviewPage()
        for entity in self._table.query_entities(query, results_per_page=min(limit + 1, 1000)):
            if len(found.previews) == limit:
                found.next_after = found.previews[-1].user_id
                break
            found.previews.append(_from_entity(entity))
        return found
