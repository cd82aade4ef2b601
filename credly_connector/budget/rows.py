"""Where a shared rate's rows live: the interface, and rows in this process's memory.

In production the rows live in Table Storage (`stores.budgets.BudgetStore`), so every
instance shares them; `ProcessRows` is a budget for one process only (no scale-out).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from credly_connector.budget.policy import RateState, StoredRate


class RateRows(Protocol):
    """Where budget rows live: Table Storage in production (`stores.budgets.BudgetStore`)."""

    def read(self, key: str) -> StoredRate | None:
        """The row, or None."""

    def create(self, key: str, state: RateState) -> StoredRate | None:
        """A new row; None when it exists already."""

    def replace(self, stored: StoredRate, state: RateState) -> StoredRate | None:
        """The row replaced if unchanged since `stored`; None on a conflict."""


@dataclass
class ProcessRows:
    """Budget rows in this process's memory: a budget for one process only (no scale-out)."""

    rows: dict[str, StoredRate] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _version: int = 0

    def read(self, key: str) -> StoredRate | None:
        """The row, or None."""
        with self._lock:
            return self.rows.get(key)

    def create(self, key: str, state: RateState) -> StoredRate | None:
        """A new row; None when it exists already."""
        with self._lock:
            if key in self.rows:
                return None
            return self._put(key, state)

    def replace(self, stored: StoredRate, state: RateState) -> StoredRate | None:
        """The row replaced if unchanged since `stored`; None on a conflict."""
        with self._lock:
            current = self.rows.get(stored.key)
            if current is None or current.etag != stored.etag:
                return None
            return self._put(stored.key, state)

    def _put(self, key: str, state: RateState) -> StoredRate:
        self._version += 1
        self.rows[key] = StoredRate(key, state, str(self._version))
        return self.rows[key]
