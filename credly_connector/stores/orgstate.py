"""Per-organisation state kept across crawls: the incremental watermark and last successes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.stores.tables import Tables, from_iso, to_iso

ROLE = "orgstate"
ROW = "state"


@dataclass(frozen=True)
class OrganizationState:
    """What the next crawls of an organisation build on.

    Attributes:
        watermark: Incremental crawls read badges updated at or after this instant.
        last_full_success / last_incremental_success: When such a crawl last succeeded
            (its start time).
        last_success_at: Start of the last successful crawl of either kind (expiry index scans
            start there).
    """

    organization_id: str
    watermark: datetime | None = None
    last_full_success: datetime | None = None
    last_incremental_success: datetime | None = None
    last_success_at: datetime | None = None
    last_crawl_id: str = ""


class OrganizationStateStore:
    """One row per organisation."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._table = tables.table(ROLE)

    def get(self, organization_id: str) -> OrganizationState:
        """The stored state (empty before the first successful crawl)."""
        try:
            entity = self._table.get_entity(organization_id, ROW)
        except ResourceNotFoundError:
            return OrganizationState(organization_id)
        return OrganizationState(
            organization_id,
            watermark=from_iso(entity.get("watermark")),
            last_full_success=from_iso(entity.get("last_full_success")),
            last_incremental_success=from_iso(entity.get("last_incremental_success")),
            last_success_at=from_iso(entity.get("last_success_at")),
            last_crawl_id=str(entity.get("last_crawl_id", "")),
        )

    def put(self, state: OrganizationState) -> None:
        """Store the state."""
        entity: dict[str, Any] = {
            "PartitionKey": state.organization_id,
            "RowKey": ROW,
            "watermark": to_iso(state.watermark),
            "last_full_success": to_iso(state.last_full_success),
            "last_incremental_success": to_iso(state.last_incremental_success),
            "last_success_at": to_iso(state.last_success_at),
            "last_crawl_id": state.last_crawl_id,
        }
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
