"""Shared rate budgets: one row per budget key, changed only with ETag conditions."""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from credly_connector.budget.policy import PROBING, RateState, StoredRate
from credly_connector.stores.tables import Tables, encode_key, etag_of

ROLE = "budgets"
ROW = "rate"


def to_entity(key: str, state: RateState) -> dict[str, Any]:
    """The row of one budget."""
    return {
        "PartitionKey": encode_key(key),
        "RowKey": ROW,
        "rate": float(state.rate),
        "next_free": float(state.next_free),
        "gate_until": float(state.gate_until),
        "last_decrease": float(state.last_decrease),
        "backoff_s": float(state.backoff_s),
        "phase": state.phase,
        "tally_since": float(state.tally_since),
        "tally": int(state.tally),
        "measured": float(state.measured),
        "refused_at": float(state.refused_at),
    }


def from_entity(entity: Any) -> RateState:
    """The state a budget row holds."""
    return RateState(
        rate=float(entity["rate"]),
        next_free=float(entity.get("next_free", 0.0)),
        gate_until=float(entity.get("gate_until", 0.0)),
        last_decrease=float(entity.get("last_decrease", 0.0)),
        backoff_s=float(entity.get("backoff_s", 1.0)),
        phase=str(entity.get("phase", PROBING)),
        tally_since=float(entity.get("tally_since", 0.0)),
        tally=int(entity.get("tally", 0)),
        measured=float(entity.get("measured", 0.0)),
        refused_at=float(entity.get("refused_at", 0.0)),
    )


class BudgetStore:
    """Budget rows in the connector's `budgets` table (created on first use if missing)."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._tables = tables
        self._table = tables.table(ROLE)

    def read(self, key: str) -> StoredRate | None:
        """The budget as stored, or None when nobody used it yet."""
        try:
            entity = self._table.get_entity(encode_key(key), ROW)
        except ResourceNotFoundError:
            return None
        return StoredRate(key, from_entity(entity), etag_of(entity) or "")

    def create(self, key: str, state: RateState) -> StoredRate | None:
        """Store a new budget; None when another instance created it first."""
        try:
            answer = self._table.create_entity(to_entity(key, state))
        except ResourceExistsError:
            return None
        except ResourceNotFoundError:
            # A deployment older than this table: create it, then the row.
            self._tables.service.create_table_if_not_exists(self._tables.name(ROLE))
            try:
                answer = self._table.create_entity(to_entity(key, state))
            except ResourceExistsError:
                return None
        return StoredRate(key, state, str(answer.get("etag", "")))

    def replace(self, stored: StoredRate, state: RateState) -> StoredRate | None:
        """Replace the budget if nobody changed it since `stored`; None on a conflict."""
        try:
            answer = self._table.update_entity(
                to_entity(stored.key, state),
                mode=UpdateMode.REPLACE,
                etag=stored.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return StoredRate(stored.key, state, str(answer.get("etag", "")))
