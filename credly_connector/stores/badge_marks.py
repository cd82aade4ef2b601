"""Which recipient emails have badge rows: a mark per email, beside the badge-id index.

A profile batch reads every address of its people outside its own range, most of which hold
no badge. Each of those reads is a range query of the badge store; a mark per email with rows
makes it a point read (`EmailMarks.has`), which an absent mark answers without the query.

The marks live in the badge-id index's table and partition (the organisation). Rows stored
before marks existed have none, so the marks are trusted only once the organisation is marked
complete (`complete`): a full crawl's plan marks every email it walks, then the organisation.
From then on every writer marks the emails of the rows it writes, before the rows, in the
same transactions as their index entries (`BadgeStore.index_many`); until then a full crawl's
pages leave it to the plan, which marks each email once instead of once per page it is on.
A mark is never removed: an email whose rows were all deleted keeps it and is queried for
nothing.
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
        self._tables, self._role = tables, role
        self._table = tables.table(role)
        self._complete: set[str] = set()  # known complete (completeness is never withdrawn)

    def has(self, organization_id: str, email: str) -> bool:
        """Whether the email is marked in the organisation (one point read)."""
        return self._exists(organization_id, _MARK + encode_key(email))

    def mark(self, organization_id: str, emails: Iterable[str]) -> int:
        """Mark emails of the organisation (idempotent); how many marks were written."""
        entities = mark_entities((organization_id, email) for email in emails)
        return self._tables.upsert_many(self._role, entities)

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
