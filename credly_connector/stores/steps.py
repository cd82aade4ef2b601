"""Per-step checkpoints of a crawl (one per page, one per profile batch) and their progress.

Each step has a record (status, counts, error) and a bit in a progress bitmap. Settling a
step's bit is idempotent, and only the step that completes a bitmap reads the others, so
detecting "the last step is done" costs a few reads per bucket, not one listing per step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.errors import ConflictError
from credly_connector.stores.tables import Tables, dumps, etag_of, from_iso, loads, quote, to_iso

ROLE = "crawlsteps"
PAGE, BATCH = "page", "batch"
DONE, FAILED, PENDING = "done", "failed", "pending"
BUCKET = 512
_CONFLICT_RETRIES = 50


def step_key(kind: str, number: int) -> str:
    """The readable name of a step, e.g. `page-12`, as failures and `advanced_by` show it."""
    return f"{kind}-{number}"


@dataclass(frozen=True)
class StepRecord:
    """What one page or profile batch of a crawl did.

    Attributes:
        counts: Named counters (badges seen/changed, people written...).
        reasons: Skipped badges per reason.
        seen: Short digests of the (email, badge id) pairs a page saw (full crawls only).
        error: The last error, when an attempt failed.
    """

    crawl_id: str
    kind: str
    number: int
    status: str = PENDING
    attempts: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    seen: tuple[str, ...] = ()
    error: str = ""
    finished_at: datetime | None = None

    @property
    def key(self) -> str:
        """`page-N` / `batch-N`."""
        return step_key(self.kind, self.number)

    @property
    def settled(self) -> bool:
        """Whether the step is done or has failed for good."""
        return self.status in (DONE, FAILED)


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
        "seen": " ".join(record.seen),
        "error": record.error[:4000],
        "finished_at": to_iso(record.finished_at),
    }


def _from_entity(entity: Any) -> StepRecord:
    seen = str(entity.get("seen", ""))
    return StepRecord(
        crawl_id=str(entity["PartitionKey"]),
        kind=str(entity["kind"]),
        number=int(entity["number"]),
        status=str(entity["status"]),
        attempts=int(entity.get("attempts", 0)),
        counts=loads(entity.get("counts"), {}),
        reasons=loads(entity.get("reasons"), {}),
        seen=tuple(seen.split()) if seen else (),
        error=str(entity.get("error", "")),
        finished_at=from_iso(entity.get("finished_at")),
    )


class StepStore:
    """Step records and progress bitmaps, one partition per crawl."""

    def __init__(self, tables: Tables) -> None:
        self._table = tables.table(ROLE)

    def get(self, crawl_id: str, kind: str, number: int) -> StepRecord | None:
        """A step's record, if any attempt wrote one."""
        try:
            return _from_entity(self._table.get_entity(crawl_id, _row(kind, number)))
        except ResourceNotFoundError:
            return None

    def put(self, record: StepRecord) -> None:
        """Write a step's record (replacing what an earlier attempt wrote)."""
        self._table.upsert_entity(_to_entity(record), mode=UpdateMode.REPLACE)

    def records(self, crawl_id: str, kind: str) -> Iterator[StepRecord]:
        """Every record of one kind of step of a crawl, in step order."""
        query = (
            f"PartitionKey eq {quote(crawl_id)} and RowKey ge {quote(kind + '-')}"
            f" and RowKey lt {quote(kind + '.')}"
        )
        for entity in self._table.query_entities(query):
            yield _from_entity(entity)

    def settle(self, crawl_id: str, kind: str, number: int, total: int) -> bool:
        """Mark step `number` (1-based) of `total` settled; True once every step is.

        Idempotent: settling a settled step again gives the same answer.
        """
        bucket = (number - 1) // BUCKET
        bits = self._set_bit(crawl_id, kind, bucket, (number - 1) % BUCKET, total)
        if not _bucket_full(bits, bucket, total):
            return False
        buckets = (total + BUCKET - 1) // BUCKET
        for other in range(buckets):
            if other != bucket and not _bucket_full(
                self._bits(crawl_id, kind, other), other, total
            ):
                return False
        return True

    def _bits(self, crawl_id: str, kind: str, bucket: int) -> str:
        try:
            entity = self._table.get_entity(crawl_id, f"progress-{kind}-{bucket:05d}")
        except ResourceNotFoundError:
            return ""
        return str(entity.get("bits", ""))

    def _set_bit(self, crawl_id: str, kind: str, bucket: int, index: int, total: int) -> str:
        row = f"progress-{kind}-{bucket:05d}"
        width = min(BUCKET, total - bucket * BUCKET)
        for _ in range(_CONFLICT_RETRIES):
            try:
                entity = self._table.get_entity(crawl_id, row)
            except ResourceNotFoundError:
                bits = ["0"] * width
                bits[index] = "1"
                try:
                    self._table.create_entity(
                        {"PartitionKey": crawl_id, "RowKey": row, "bits": "".join(bits)}
                    )
                except ResourceExistsError:
                    continue
                return "".join(bits)
            bits = list(str(entity.get("bits", "")).ljust(width, "0"))
            if bits[index] == "1":
                return "".join(bits)
            bits[index] = "1"
            try:
                self._table.update_entity(
                    {"PartitionKey": crawl_id, "RowKey": row, "bits": "".join(bits)},
                    mode=UpdateMode.MERGE,
                    etag=etag_of(entity),
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                continue
            return "".join(bits)
        msg = f"progress of {crawl_id} {kind} bucket {bucket} kept changing under us"
        raise ConflictError(msg)


def _bucket_full(bits: str, bucket: int, total: int) -> bool:
    width = min(BUCKET, total - bucket * BUCKET)
    return len(bits) >= width and "0" not in bits[:width]
