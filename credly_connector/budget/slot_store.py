"""Concurrency slot rows in Table Storage: one look, take, renew, release, and the 429 gate.

A key's partition holds at most one row per taken slot (`slot-000`...): taking a free slot
creates its row, releasing deletes it (ETag-conditional), so an uncontended request costs two
storage operations. A holder that dies leaves its row, which is free once its lease expired.
Closing the gate (after a 429) makes the gate the holder of every slot until it opens, in one
transaction with the `gate` row that remembers the closings in a row; nobody needs to read
anything else to respect it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from credly_connector.errors import RetryableError
from credly_connector.stores.tables import Tables, encode_key, etag_of, from_iso, quote, to_iso

ROLE = "slots"
GATE_ROW = "gate"
GATE_HOLDER = "gate"
SLOT_PREFIX = "slot-"
# Closings this long after the last one opened start counting again (for the backoff).
STRIKES_FORGOTTEN_S = 60.0


class SlotsUnavailableError(RetryableError):
    """No slot could be taken: storage failed, or every slot stayed busy too long. Try later."""


@dataclass(frozen=True)
class Slot:
    """One slot held by this process: which row, our holder token and the row's ETag."""

    key: str
    row: str
    holder: str
    etag: str


@dataclass(frozen=True)
class Snapshot:
    """One look at a key's partition: the rows we may take, and the gate.

    Attributes:
        free: Free slot rows: None for a row absent (free), else the ETag of an expired one.
        busy: How many slots are held by live leases (the gate's included).
        closed_until: The gate holds slots until then (a 429's Retry-After), if it does.
        strikes: Closings in a row so far (for a backoff).
    """

    free: dict[str, str | None]
    busy: int
    closed_until: datetime | None = None
    strikes: int = 0


def slot_rows(capacity: int) -> list[str]:
    """The row keys of a key's `capacity` slots."""
    return [f"{SLOT_PREFIX}{index:03d}" for index in range(capacity)]


def read_snapshot(entities: list[dict[str, Any]], capacity: int, now: datetime) -> Snapshot:
    """What a partition's entities mean at `now` (pure: rows past `capacity` are ignored)."""
    rows = {str(entity["RowKey"]): entity for entity in entities}
    free: dict[str, str | None] = {}
    busy = 0
    closed_until: datetime | None = None
    for row in slot_rows(capacity):
        entity = rows.get(row)
        if entity is None:
            free[row] = None
            continue
        expires = from_iso(entity.get("expires_at"))
        if expires is None or expires <= now:
            free[row] = etag_of(entity) or ""
            continue
        busy += 1
        if entity.get("holder") == GATE_HOLDER:
            closed_until = expires if closed_until is None else max(closed_until, expires)
    gate = rows.get(GATE_ROW)
    strikes = int(gate.get("strikes") or 0) if gate is not None else 0
    return Snapshot(free, busy, closed_until=closed_until, strikes=strikes)


class SlotStore:
    """The slot rows of every key, changed only with ETag conditions (or in a transaction).

    Every call is one storage operation unless it says otherwise; storage failures raise
    `SlotsUnavailableError`.
    """

    def __init__(self, tables: Tables, clock: Callable[[], datetime] | None = None) -> None:
        """Keep the slots in the `slots` table of `tables`.

        Args:
            tables: The connector's tables (the `slots` table is created on first use if missing).
            clock: The current aware UTC time; wall clock, as leases are compared across machines.
        """
        self._tables = tables
        self.clock = clock or (lambda: datetime.now(UTC))

    @property
    def table(self) -> TableClient:
        """The table client of the slots."""
        return self._tables.table(ROLE)

    def look(self, key: str, capacity: int) -> Snapshot:
        """The key's slots and gate as they stand (one query)."""
        query = f"PartitionKey eq {quote(encode_key(key))}"
        entities = self._storage(self._query, query)
        return read_snapshot(entities, capacity, self.clock())

    def take(self, key: str, row: str, etag: str | None, lease_s: float) -> Slot | None:
        """Take one free slot (`etag`: its expired row as seen; None: absent); None if taken."""
        holder = uuid.uuid4().hex
        entity = self._entity(key, row, holder, self.clock() + timedelta(seconds=lease_s))
        try:
            if etag is None:
                metadata = self._storage(self.table.create_entity, entity)
            else:
                metadata = self._storage(self._replace, entity, etag)
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return None
        return Slot(key, row, holder, str(metadata.get("etag") or ""))

    def renew(self, slot: Slot, lease_s: float) -> Slot | None:
        """Extend our lease; the slot with its new ETag, or None when it is no longer ours."""
        entity = self._entity(
            slot.key, slot.row, slot.holder, self.clock() + timedelta(seconds=lease_s)
        )
        for _ in range(3):
            try:
                metadata = self._storage(self._replace, entity, slot.etag)
            except (ResourceModifiedError, ResourceNotFoundError):
                current = self._current(slot)
                if current is None:
                    return None
                slot = current
                continue
            return Slot(slot.key, slot.row, slot.holder, str(metadata.get("etag") or ""))
        return None

    def release(self, slot: Slot) -> None:
        """Free our slot (idempotent; a slot the gate or someone else took over is left alone)."""
        for _ in range(3):
            try:
                self._storage(self._delete, slot)
            except (ResourceModifiedError, ResourceNotFoundError):
                current = self._current(slot)
                if current is None:
                    return
                slot = current
                continue
            return

    def close(self, key: str, capacity: int, wait_s: Callable[[int], float]) -> datetime:
        """Close the key's gate: no slot is taken before now + `wait_s(strikes)`.

        The gate becomes the holder of every slot until then, in one transaction with the gate
        row (ETag-conditional, so closings by several instances combine: the later end wins).
        `wait_s` gets the closings in a row so far (for a backoff). Two operations or more.

        Returns:
            Until when the gate is closed.
        """
        pk = encode_key(key)
        while True:
            gate = self._storage(self._get, pk, GATE_ROW)
            now = self.clock()
            current = from_iso(gate.get("until")) if gate else None
            strikes = int(gate.get("strikes") or 0) if gate else 0
            if current is None or current < now - timedelta(seconds=STRIKES_FORGOTTEN_S):
                strikes = 0
            until = now + timedelta(seconds=max(0.0, wait_s(strikes)))
            if current is not None and current > until:
                until = current
            record: dict[str, Any] = {"PartitionKey": pk, "RowKey": GATE_ROW}
            record |= {"until": to_iso(until), "strikes": strikes + 1}
            replace = {"mode": UpdateMode.REPLACE}
            operations: list[Any] = [
                ("upsert", self._entity(key, row, GATE_HOLDER, until), replace)
                for row in slot_rows(capacity)
            ]
            if gate is None:
                operations.append(("create", record))
            else:
                condition = {
                    "etag": etag_of(gate),
                    "match_condition": MatchConditions.IfNotModified,
                }
                operations.append(("update", record, {**replace, **condition}))
            try:
                self._storage(self.table.submit_transaction, operations)
            except TableTransactionError as error:
                if error.status_code in (409, 412):
                    continue  # another instance closed it meanwhile: combine with theirs
                message = f"storage failed while closing {key}: {error}"
                raise SlotsUnavailableError(message) from error
            return until

    # -- storage ---------------------------------------------------------------------------

    def _entity(self, key: str, row: str, holder: str, expires: datetime | None) -> dict[str, Any]:
        return {
            "PartitionKey": encode_key(key),
            "RowKey": row,
            "holder": holder,
            "expires_at": to_iso(expires),
        }

    def _query(self, query: str) -> list[dict[str, Any]]:
        return list(self.table.query_entities(query))

    def _replace(
        self, entity: dict[str, Any], etag: str, mode: UpdateMode = UpdateMode.REPLACE
    ) -> dict[str, Any]:
        condition = MatchConditions.IfNotModified
        result: dict[str, Any] = self.table.update_entity(
            entity, mode=mode, etag=etag, match_condition=condition
        )
        return result

    def _delete(self, slot: Slot) -> None:
        condition = MatchConditions.IfNotModified
        self.table.delete_entity(
            encode_key(slot.key), slot.row, etag=slot.etag, match_condition=condition
        )

    def _get(self, partition: str, row: str) -> Any:
        try:
            return self.table.get_entity(partition, row)
        except ResourceNotFoundError as error:
            if _table_missing(error):
                raise
            return None

    def _current(self, slot: Slot) -> Slot | None:
        """Our slot as stored now (a renewal raced us), or None when it is not ours any more."""
        entity = self._storage(self._get, encode_key(slot.key), slot.row)
        if entity is None or entity.get("holder") != slot.holder:
            return None
        return Slot(slot.key, slot.row, slot.holder, etag_of(entity) or "")

    def _storage(self, operation: Callable[..., Any], *args: Any) -> Any:
        """Run one storage call: a missing table is made once; failures become retryable."""
        try:
            try:
                return operation(*args)
            except ResourceNotFoundError as error:
                if not _table_missing(error):
                    raise
                # Made once per account (a deployment makes it beforehand): then try again.
                with contextlib.suppress(ResourceExistsError):
                    self._tables.service.create_table(self._tables.name(ROLE))
                return operation(*args)
        except (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
            TableTransactionError,
        ):
            raise  # outcomes the caller decides on
        except AzureError as error:
            message = f"storage failed while taking a concurrency slot: {type(error).__name__}"
            raise SlotsUnavailableError(f"{message}: {error}") from error


def _table_missing(error: ResourceNotFoundError) -> bool:
    """Whether the table itself is missing (not just the entity addressed)."""
    return getattr(error, "error_code", None) == "TableNotFound" or "TableNotFound" in str(error)
