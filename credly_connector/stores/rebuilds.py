"""The rebuild in progress: which connection replaces which, and the last step it finished."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.stores.tables import Tables, dumps, etag_of, from_iso, loads, to_iso

# One row in the organisation-state table, in a partition no organisation id can take
# (organisation ids are GUIDs).
ROLE = "orgstate"
PARTITION = "~rebuild"
ROW = "current"
STEPS = ("provision", "crawl", "catch up", "swap", "remove old", "records")
"""A rebuild's steps, in order; the record lists those finished."""


@dataclass(frozen=True)
class RebuildRecord:
    """A rebuild from one connection onto another.

    Attributes:
        finished: The steps done so far, in order (a resumed rebuild skips them).
        crawls: The full crawl writing into the new connection, per organisation.
        started_at: When the rebuild began: people recorded since by the live writers (into
            the old connection) are written into the new one before the swap.
        etag: The row's ETag as read (None for a record not stored yet).
    """

    from_id: str
    to_id: str
    started_at: datetime
    finished: tuple[str, ...] = ()
    crawls: dict[str, str] = field(default_factory=dict)
    etag: str | None = None

    @property
    def complete(self) -> bool:
        """Whether every step is finished."""
        return self.done(STEPS[-1])

    def done(self, step: str) -> bool:
        """Whether `step` is finished."""
        return step in self.finished

    def finishing(self, step: str) -> RebuildRecord:
        """The record with `step` finished."""
        return self if self.done(step) else replace(self, finished=(*self.finished, step))


class RebuildConflictError(Exception):
    """Another run saved the rebuild record since it was read."""


class RebuildStore:
    """The one rebuild record, written conditionally on the version read."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._table = tables.table(ROLE)

    def get(self) -> RebuildRecord | None:
        """The current (or last) rebuild, None when none was started."""
        try:
            entity = self._table.get_entity(PARTITION, ROW)
        except ResourceNotFoundError:
            return None
        started = from_iso(entity.get("started_at"))
        assert started is not None
        return RebuildRecord(
            from_id=str(entity["from_id"]),
            to_id=str(entity["to_id"]),
            started_at=started,
            finished=tuple(loads(entity.get("finished"), [])),
            crawls=dict(loads(entity.get("crawls"), {})),
            etag=etag_of(entity),
        )

    def save(self, record: RebuildRecord) -> RebuildRecord:
        """Store the record if nobody saved it since it was read; the record with its new ETag.

        Raises:
            RebuildConflictError: Another run created or changed it meanwhile.
        """
        entity: dict[str, Any] = {
            "PartitionKey": PARTITION,
            "RowKey": ROW,
            "from_id": record.from_id,
            "to_id": record.to_id,
            "started_at": to_iso(record.started_at),
            "finished": dumps(list(record.finished)),
            "crawls": dumps(record.crawls),
        }
        try:
            if record.etag is None:
                metadata = self._table.create_entity(entity)
            else:
                metadata = self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=record.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError) as error:
            raise RebuildConflictError(str(error)) from error
        return replace(record, etag=str(metadata.get("etag") or "") or None)

    def clear(self) -> None:
        """Forget the record (a finished rebuild, once the administrator starts another)."""
        try:
            self._table.delete_entity(PARTITION, ROW)
        except ResourceNotFoundError:
            return
