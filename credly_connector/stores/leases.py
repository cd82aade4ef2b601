"""The per-organisation crawl lease: at most one crawl of an organisation runs at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.stores.tables import Tables, etag_of, from_iso, to_iso

ROLE = "leases"
ROW = "crawl"


@dataclass(frozen=True)
class Lease:
    """Who holds an organisation's crawl lease, and until when."""

    organization_id: str
    holder: str
    expires_at: datetime
    etag: str | None = None

    def expired(self, now: datetime) -> bool:
        """Whether another crawl may take the lease over."""
        return now >= self.expires_at


@dataclass(frozen=True)
class LeaseOutcome:
    """The answer to an acquisition: the lease when taken, else who holds it.

    Attributes:
        acquired: Whether the caller holds the lease now.
        lease: The lease as it stands after the attempt.
        taken_over: The holder whose expired (or ended) lease the caller took over, if any.
    """

    acquired: bool
    lease: Lease | None
    taken_over: str | None = None


class LeaseStore:
    """Crawl leases, one entity per organisation, changed only with ETag conditions."""

    def __init__(self, tables: Tables) -> None:
        """Read and write leases in `tables`' lease table."""
        self._table = tables.table(ROLE)
        self._seen: dict[str, Lease] = {}

    def current(self, organization_id: str) -> Lease | None:
        """The lease as stored (it may have expired)."""
        try:
            entity = self._table.get_entity(organization_id, ROW)
        except ResourceNotFoundError:
            return None
        expires = from_iso(entity.get("expires_at"))
        if expires is None:
            return None
        lease = Lease(organization_id, str(entity["holder"]), expires, etag_of(entity))
        self._seen[organization_id] = lease
        return lease

    def last_seen(self, organization_id: str) -> Lease | None:
        """The lease as this process last read it (None: never read here); it may be stale.

        Leases only move forward for their holder (renewed later) or pass to another holder
        once expired, so a lease seen running until T held by H was H's until T at least.
        """
        return self._seen.get(organization_id)

    def acquire(
        self,
        organization_id: str,
        holder: str,
        now: datetime,
        duration: timedelta,
        ended: Callable[[str], bool] | None = None,
    ) -> LeaseOutcome:
        """Take the lease when it is free or expired (or already ours: then renew it).

        `ended` tells whether a holder has finished: its lease is free too, though the holder
        has not released it yet (a crawl saves its final status, then releases its lease).
        """
        entity = {
            "PartitionKey": organization_id,
            "RowKey": ROW,
            "holder": holder,
            "expires_at": to_iso(now + duration),
            "acquired_at": to_iso(now),
        }
        existing = self.current(organization_id)
        if existing is None:
            try:
                self._table.create_entity(entity)
            except ResourceExistsError:
                return self._refused(organization_id, holder, entity)
            return LeaseOutcome(True, self.current(organization_id))
        if (
            existing.holder != holder
            and not existing.expired(now)
            and not (ended is not None and ended(existing.holder))
        ):
            return LeaseOutcome(False, existing)
        try:
            self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=existing.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return self._refused(organization_id, holder, entity, existing)
        taken_over = existing.holder if existing.holder != holder else None
        return LeaseOutcome(True, self.current(organization_id), taken_over)

    def _refused(
        self,
        organization_id: str,
        holder: str,
        entity: dict[str, str],
        existing: Lease | None = None,
    ) -> LeaseOutcome:
        """The outcome of a refused take: ours after all when the refusal was our own write.

        The storage transport sends a write again when its answer was lost; if the first
        send had applied, the lease now holds exactly what we wrote.
        """
        current = self.current(organization_id)
        if (
            current is not None
            and current.holder == holder
            and to_iso(current.expires_at) == entity["expires_at"]
        ):
            taken_over = existing.holder if existing and existing.holder != holder else None
            return LeaseOutcome(True, current, taken_over)
        return LeaseOutcome(False, current)

    def renew(self, organization_id: str, holder: str, now: datetime, duration: timedelta) -> bool:
        """Extend our lease; False when it is no longer ours."""
        existing = self.current(organization_id)
        if existing is None or existing.holder != holder:
            return False
        try:
            self._table.update_entity(
                {
                    "PartitionKey": organization_id,
                    "RowKey": ROW,
                    "holder": holder,
                    "expires_at": to_iso(max(existing.expires_at, now + duration)),
                },
                mode=UpdateMode.MERGE,
                etag=existing.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            current = self.current(organization_id)
            return current is not None and current.holder == holder
        return True

    def release(self, organization_id: str, holder: str) -> None:
        """Give the lease up if we still hold it (idempotent)."""
        existing = self.current(organization_id)
        if existing is None or existing.holder != holder:
            return
        with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            self._table.delete_entity(
                organization_id,
                ROW,
                etag=existing.etag,
                match_condition=MatchConditions.IfNotModified,
            )
