"""Per-step checkpoints of a crawl (one per page, one per profile batch) and their progress.

Each step has a record (status, counts, error) and a bit in a progress bitmap. Settling a
step's bit is idempotent, and only the step that completes a bitmap reads the others, so
detecting "the last step is done" costs a few reads per bucket, not one listing per step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.errors import ConflictError
from credly_connector.stores.tables import (
    Tables,
    chunked,
    dumps,
    etag_of,
    from_iso,
    loads,
    quote,
    to_iso,
)

ROLE = "crawlsteps"
PAGE, BATCH = "page", "batch"
DONE, FAILED, PENDING = "done", "failed", "pending"
# The stage (queue) each kind of step runs in, as failures name it.
STAGE_OF = {PAGE: "pages", BATCH: "profiles"}
BUCKET = 512
_CONFLICT_RETRIES = 50
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
    kind: str
    number: int
    status: str = PENDING
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
        return self.status in (DONE, FAILED)

    @property
    def stage(self) -> str:
        """The stage the step runs in (`pages`, `profiles`), or its kind for other steps."""
        return STAGE_OF.get(self.kind, self.kind)

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
        kind=str(entity["kind"]),
        number=int(entity["number"]),
        status=str(entity["status"]),
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
        self._tables = tables
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
        query = f"PartitionKey eq {quote(crawl_id)} and status eq {quote(FAILED)}"
        for entity in self._table.query_entities(query):
            yield _from_entity(entity)

    def reset(self, crawl_id: str, records: list[StepRecord], total: int) -> None:
        """Make settled steps of one kind pending again: fresh records, progress bits cleared.

        Each record keeps its message, so a step that fails again can be re-driven again.
        """
        by_bucket: dict[tuple[str, int], list[int]] = {}
        for record in records:
            self.put(StepRecord(crawl_id, record.kind, record.number, message=record.message))
            bucket = (record.number - 1) // BUCKET
            by_bucket.setdefault((record.kind, bucket), []).append((record.number - 1) % BUCKET)
        for (kind, bucket), indexes in sorted(by_bucket.items()):
            self._clear_bits(crawl_id, kind, bucket, indexes, total)

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
        return self._change_bits(crawl_id, kind, bucket, total, [index], value="1")

    def _clear_bits(
        self, crawl_id: str, kind: str, bucket: int, indexes: list[int], total: int
    ) -> None:
        self._change_bits(crawl_id, kind, bucket, total, indexes, value="0")

    def _change_bits(
        self, crawl_id: str, kind: str, bucket: int, total: int, indexes: list[int], *, value: str
    ) -> str:
        """Set the bits `indexes` of a bucket to `value` (ETag-conditional); the new bits."""
        row = f"progress-{kind}-{bucket:05d}"
        width = min(BUCKET, total - bucket * BUCKET)
        for _ in range(_CONFLICT_RETRIES):
            try:
                entity = self._table.get_entity(crawl_id, row)
            except ResourceNotFoundError:
                if value == "0":
                    return ""  # no bit of this bucket was ever set
                bits = ["0"] * width
                for index in indexes:
                    bits[index] = value
                try:
                    self._table.create_entity(
                        {"PartitionKey": crawl_id, "RowKey": row, "bits": "".join(bits)}
                    )
                except ResourceExistsError:
                    continue
                return "".join(bits)
            bits = list(str(entity.get("bits", "")).ljust(width, "0"))
            if all(bits[index] == value for index in indexes):
                return "".join(bits)
            for index in indexes:
                bits[index] = value
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
