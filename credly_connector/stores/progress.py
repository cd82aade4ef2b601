"""Progress bitmaps of a crawl's steps: which pages or batches have settled.

One bit per step, in buckets of `BUCKET` steps, each bucket a row of the step table in the
crawl's partition (`progress-<kind>-<bucket>`), changed ETag-conditionally. Settling a step's
bit is idempotent, and only the step that completes a bucket reads the others, so detecting
"the last step is done" costs a few reads per bucket, not one listing per step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from credly_connector.errors import ConflictError
from credly_connector.stores.tables import etag_of

BUCKET = 512
_CONFLICT_RETRIES = 50


class StepProgress:
    """The progress bitmaps in the step table (`stores/steps.py`)."""

    def __init__(self, table: TableClient) -> None:
        """Keep the bitmaps in `table`, beside the step records."""
        self._table = table

    def settle(self, crawl_id: str, kind: str, numbers: Sequence[int], total: int) -> bool:
        """Set the bits of steps `numbers` (1-based, of `total`); True once every step's is.

        One conditional change per bucket the numbers fall in (one for a message's pages).
        """
        changed: dict[int, str] = {}
        for bucket, indexes in sorted(_by_bucket(numbers).items()):
            changed[bucket] = self._change_bits(crawl_id, kind, bucket, total, indexes, value="1")
        if not all(_bucket_full(bits, bucket, total) for bucket, bits in changed.items()):
            return False
        buckets = (total + BUCKET - 1) // BUCKET
        for other in range(buckets):
            if other not in changed and not _bucket_full(
                self._bits(crawl_id, kind, other), other, total
            ):
                return False
        return True

    def clear(self, crawl_id: str, steps: Iterable[tuple[str, int]], total: int) -> None:
        """Clear the bits of `steps` (kind, number), so they count as not settled."""
        by_kind: dict[str, list[int]] = {}
        for kind, number in steps:
            by_kind.setdefault(kind, []).append(number)
        for kind, numbers in sorted(by_kind.items()):
            for bucket, indexes in sorted(_by_bucket(numbers).items()):
                self._change_bits(crawl_id, kind, bucket, total, indexes, value="0")

    def _bits(self, crawl_id: str, kind: str, bucket: int) -> str:
        try:
            entity = self._table.get_entity(crawl_id, f"progress-{kind}-{bucket:05d}")
        except ResourceNotFoundError:
            return ""
        return str(entity.get("bits", ""))

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


def _by_bucket(numbers: Iterable[int]) -> dict[int, list[int]]:
    """The bit indexes of step `numbers` (1-based), by bucket."""
    buckets: dict[int, list[int]] = {}
    for number in numbers:
        buckets.setdefault((number - 1) // BUCKET, []).append((number - 1) % BUCKET)
    return buckets


def _bucket_full(bits: str, bucket: int, total: int) -> bool:
    width = min(BUCKET, total - bucket * BUCKET)
    return len(bits) >= width and "0" not in bits[:width]
