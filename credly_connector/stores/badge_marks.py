"""Which recipient emails have badge rows: a mark per email, beside the badge-id index.

A range batch of a full crawl reads the other addresses of its people, most of which hold no
badge. Each of those reads is a range query of the badge store; a mark per email with rows
makes it a point read (`EmailMarks.has`), which an absent mark answers without the query.

The marks live in the badge-id index's table and partition (the organisation), so they are
written in the same transactions as the index entries, before the rows (`BadgeStore.index_many`).
A mark is never removed: an email whose rows were all deleted keeps it and is queried for
nothing. Rows stored before marks existed have none, so the marks are only trusted for an
organisation marked complete (`complete`): a full crawl marks it once every row it did not
list was swept and every email it listed was marked, or when it found no row at its start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from credly_connector.stores.tables import Tables, encode_key

# "%!" never begins an encoded badge id (`encode_key` writes '%' only before two hex digits
# or 'u'): "%!" + encoded email marks an email, "%!" alone the organisation's completeness.
_MARK = "%!"


def mark_entities(marks: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """The index entities marking (organisation, email) pairs, each once, in key order."""
    return [
        {"PartitionKey": organization_id, "RowKey": _MARK + encode_key(email)}
        for organization_id, email in sorted(set(marks))
    ]


class EmailMarks:
    """Reads the marks in the badge-id index table `role`.

    Args:
        tables: The connector's tables.
        role: The badge-id index's role.
    """

    def __init__(self, tables: Tables, role: str) -> None:
        """Read marks in `tables`' table of `role`."""
        self._table = tables.table(role)
        self._complete: set[str] = set()  # known complete (completeness is never withdrawn)

    def has(self, organization_id: str, email: str) -> bool:
        """Whether the email is marked in the organisation (one point read)."""
        return self._exists(organization_id, _MARK + encode_key(email))

    def complete(self, organization_id: str) -> bool:
        """Whether every email with rows in the organisation is marked (remembered once so)."""
        if organization_id in self._complete:
            return True
        if not self._exists(organization_id, _MARK):
            return False
        self._complete.add(organization_id)
        return True

    def mark_complete(self, organization_id: str) -> None:
        """Record that every email with rows in the organisation is marked (idempotent)."""
        self._table.upsert_entity({"PartitionKey": organization_id, "RowKey": _MARK})
        self._complete.add(organization_id)

    def _exists(self, partition: str, row: str) -> bool:
        try:
            self._table.get_entity(partition, row, select=["RowKey"])
        except ResourceNotFoundError:
            return False
        return True
