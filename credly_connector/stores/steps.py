"""Per-step checkpoints of a crawl (one per page, one per profile batch) and their progress.

Each step has a record (status, counts, error) and a bit in a progress bitmap
(`stores/progress.py`), both in the crawl's partition of one table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.stores.progress import StepProgress
from credly_connector.stores.tables import Tables, chunked, dumps, from_iso, loads, quote, to_iso

ROLE = "crawlsteps"


class StepKind(StrEnum):
    """What a step is: a page of the listing, a profile batch, or a slice of a full plan."""

    PAGE = "page"
    BATCH = "batch"
    PLAN = "plan"

    @property
    def stage(self) -> str:
        """The stage (queue) the step runs in, as failures name it."""
        return {StepKind.PAGE: "pages", StepKind.BATCH: "profiles"}.get(self, self.value)


class StepStatus(StrEnum):
    """Where a step stands: pending (to run, or to run again), done, or failed for good."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


# A step's error is one short line; the logs keep the rest.
MAX_ERROR_CHARS = 300
# A string property holds at most 32K UTF-16 characters; a kept message is split across several.
_MESSAGE_CHUNK = 30_000
_MESSAGE_CHUNKS = 8


def step_key(kind: str, number: int) -> str:
    """The readable name of a step, e.g. `page-12`, as failures and `advanced_by` show it."""
    return f"{kind}-{number}"


@dataclass(frozen=True)
class StepRecord:
    """What one page or profile batch of a crawl did.

    Attributes:
        counts: Named counters (badges seen/changed, people written...).
        reasons: Skipped badges per reason.
        error: The last error, when an attempt failed (one short line, no secrets).
        error_at: When the last failed attempt ended.
        message: The queue message body of a step that cannot be rebuilt from its number
            (profile batches: the plan keeps it on the batch's record, which keeps it), so
            that a retry of the crawl can send it again.
    """

    crawl_id: str
    kind: StepKind
    number: int
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    error: str = ""
    finished_at: datetime | None = None
    error_at: datetime | None = None
    message: str = ""

    @property
    def key(self) -> str:
        """`page-N` / `batch-N`."""
        return step_key(self.kind, self.number)

    @property
    def settled(self) -> bool:
        """Whether the step is done or has failed for good."""
        return self.status in (StepStatus.DONE, StepStatus.FAILED)

    @property
    def stage(self) -> str:
        """The stage the step runs in (`pages`, `profiles`), or its kind for other steps."""
        return StepKind(self.kind).stage

    def failure_json(self) -> dict[str, Any]:
        """The step's last error as the crawl status shows it."""
        return {
            "stage": self.stage,
            "step": self.key,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "at": to_iso(self.error_at) or None,
        }


def _row(kind: str, number: int) -> str:
    return f"{kind}-{number:07d}"


def _to_entity(record: StepRecord) -> dict[str, Any]:
    return {
        "PartitionKey": record.crawl_id,
        "RowKey": _row(record.kind, record.number),
        "kind": record.kind,
        "number": record.number,
        "status": record.status,
        "attempts": record.attempts,
        "counts": dumps(record.counts),
        "reasons": dumps(record.reasons),
        "error": record.error[:MAX_ERROR_CHARS],
        "finished_at": to_iso(record.finished_at),
        "error_at": to_iso(record.error_at),
        **_message_properties(record.message),
    }


def _message_properties(message: str) -> dict[str, str]:
    if len(message) > _MESSAGE_CHUNK * _MESSAGE_CHUNKS:
        msg = f"a kept message of {len(message)} characters does not fit a step record"
        raise ValueError(msg)
    return {
        f"message_{n}": message[start : start + _MESSAGE_CHUNK]
        for n, start in enumerate(range(0, len(message), _MESSAGE_CHUNK))
    }


def _message_of(entity: Any) -> str:
    return "".join(str(entity.get(f"message_{n}", "")) for n in range(_MESSAGE_CHUNKS))


def _from_entity(entity: Any) -> StepRecord:
    return StepRecord(
        crawl_id=str(entity["PartitionKey"]),
        kind=StepKind(entity["kind"]),
        number=int(entity["number"]),
        status=StepStatus(entity["status"]),
        attempts=int(entity.get("attempts", 0)),
        counts=loads(entity.get("counts"), {}),
        reasons=loads(entity.get("reasons"), {}),
        error=str(entity.get("error", "")),
        finished_at=from_iso(entity.get("finished_at")),
        error_at=from_iso(entity.get("error_at")),
        message=_message_of(entity),
    )


class StepStore:
    """Step records and progress bitmaps, one partition per crawl."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._tables = tables
        self._table = tables.table(ROLE)
        self._progress = StepProgress(self._table)

    def get(self, crawl_id: str, kind: str, number: int) -> StepRecord | None:
        """A step's record, if any attempt wrote one."""
        try:
            return _from_entity(self._table.get_entity(crawl_id, _row(kind, number)))
        except ResourceNotFoundError:
            return None

    def put(self, record: StepRecord) -> None:
        """Write a step's record (replacing what an earlier attempt wrote)."""
        self._table.upsert_entity(_to_entity(record), mode=UpdateMode.REPLACE)

    def put_many(self, records: Iterable[StepRecord]) -> int:
        """Write several records of one crawl in transactions (replacing earlier ones)."""
        return self._tables.upsert_many(ROLE, map(_to_entity, records))

    def records(self, crawl_id: str, kind: str, first: int = 1) -> Iterator[StepRecord]:
        """The records of one kind of step of a crawl, in step order, from step `first` on.

        Read lazily a query page at a time.
        """
        query = (
            f"PartitionKey eq {quote(crawl_id)} and RowKey ge {quote(_row(kind, first))}"
            f" and RowKey lt {quote(kind + '.')}"
        )
        for entity in self._table.query_entities(query):
            yield _from_entity(entity)

    def failed(self, crawl_id: str) -> Iterator[StepRecord]:
        """The steps of a crawl that failed for good, of every kind, in key order."""
        query = f"PartitionKey eq {quote(crawl_id)} and status eq {quote(StepStatus.FAILED)}"
        for entity in self._table.query_entities(query):
            yield _from_entity(entity)

    def reset(self, crawl_id: str, records: list[StepRecord], total: int) -> None:
        """Make settled steps of one kind pending again: fresh records, progress bits cleared.

        Each record keeps its message, so a step that fails again can be re-driven again.
        """
        for record in records:
            self.put(StepRecord(crawl_id, record.kind, record.number, message=record.message))
        self._progress.clear(crawl_id, [(r.kind, r.number) for r in records], total)

    def discard(self, crawl_id: str, kind: str) -> int:
        """Forget every record and progress bit of one kind of step; returns rows deleted."""
        deleted = 0
        for prefix in (kind, f"progress-{kind}"):
            query = (
                f"PartitionKey eq {quote(crawl_id)} and RowKey ge {quote(prefix + '-')}"
                f" and RowKey lt {quote(prefix + '.')}"
            )
            rows = (
                {"PartitionKey": crawl_id, "RowKey": str(entity["RowKey"])}
                for entity in self._table.query_entities(query, select=["RowKey"])
            )
            for batch in chunked(list(rows)):
                self._table.submit_transaction([("delete", row) for row in batch])
                deleted += len(batch)
        return deleted

    def settle(self, crawl_id: str, kind: str, numbers: Sequence[int], total: int) -> bool:
        """Mark steps `numbers` (1-based) of `total` settled; True once every step is.

        Idempotent: settling a settled step again gives the same answer.
        """
        return self._progress.settle(crawl_id, kind, numbers, total)

    def between(self, crawl_id: str, kind: str, first: int, last: int) -> dict[int, StepRecord]:
        """The records of steps `first`..`last` of one kind, by number (one read either way)."""
        if first == last:
            record = self.get(crawl_id, kind, first)
            return {} if record is None else {first: record}
        query = (
            f"PartitionKey eq {quote(crawl_id)} and RowKey ge {quote(_row(kind, first))}"
            f" and RowKey le {quote(_row(kind, last))}"
        )
        records = map(_from_entity, self._table.query_entities(query))
        return {record.number: record for record in records}
