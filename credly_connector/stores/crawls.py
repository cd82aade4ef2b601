"""Crawl records: what was asked, which phase a crawl is in, and how it ended."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.errors import ConflictError
from credly_connector.stores.tables import Tables, dumps, etag_of, from_iso, loads, quote, to_iso

ROLE = "crawls"
PARTITION = "crawl"
_MAX_MS = 10**13 - 1


class CrawlKind(StrEnum):
    """What a crawl reads: every badge of the organisation, or those changed since the last."""

    FULL = "full"
    INCREMENTAL = "incremental"


KINDS: tuple[str, ...] = tuple(CrawlKind)


class CrawlStatus(StrEnum):
    """How far a crawl got: queued, running, or ended (succeeded, failed or cancelled)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Ended by an operator (`cancel`): final like the others, and never retried.
    CANCELLED = "cancelled"


class CrawlPhase(StrEnum):
    """The stage a crawl is in, in order: a crawl only ever moves forward through them."""

    START = "start"
    PAGES = "pages"
    PLAN = "plan"
    PROFILES = "profiles"
    FINISH = "finish"
    DONE = "done"


FINAL_STATUSES = frozenset({CrawlStatus.SUCCEEDED, CrawlStatus.FAILED, CrawlStatus.CANCELLED})


def new_crawl_id(now: datetime) -> str:
    """A crawl id that sorts newest first (inverted milliseconds) and is unique."""
    millis = int(now.timestamp() * 1000)
    return f"{_MAX_MS - millis:013d}{secrets.token_hex(3)}"


@dataclass(frozen=True)
class CrawlRecord:
    """One crawl of one organisation.

    Attributes:
        kind: A `CrawlKind`.
        advanced_by: The step (`page-7`, `batch-3`, `start`...) whose completion moved the
            crawl into its current phase; only that step's handler sends the next messages,
            so a redelivery of it can send them again after a crash.
        followup_sent: Whether the messages of the current phase were all enqueued.
        since: The watermark an incremental crawl reads changes from.
        dry_run: Every stage runs except the Graph writes; profiles go to a preview instead.
        fresh: A full crawl that found no stored badge of its organisation at start, so its
            pages write every badge without reading the store first.
        counts: Totals filled in when the crawl finishes.
        status: A `CrawlStatus`.
        phase: A `CrawlPhase`.
        credly_filter: What Credly did with an incremental crawl's `updated_at_min` filter
            (`pipeline.query.CredlyFilter`): `applied`, `ignored` (read everything anyway)
            or `rejected` (the crawl reads without it); empty when no filter was sent.
            `credly_filter_note` says why.
    """

    crawl_id: str
    organization_id: str
    kind: str
    trigger: str
    created_at: datetime
    status: str = CrawlStatus.QUEUED
    phase: str = CrawlPhase.START
    since: datetime | None = None
    total_pages: int | None = None
    total_batches: int | None = None
    advanced_by: str = ""
    followup_sent: bool = False
    directory_version: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    failure_stage: str = ""
    failure_message: str = ""
    failed_steps: tuple[str, ...] = ()
    dry_run: bool = False
    fresh: bool = False
    credly_filter: str = ""
    credly_filter_note: str = ""
    etag: str | None = field(default=None, compare=False)

    @property
    def final(self) -> bool:
        """Whether the crawl has ended (succeeded, failed or cancelled)."""
        return self.status in FINAL_STATUSES

    def phase_at_least(self, phase: CrawlPhase) -> bool:
        """Whether the crawl has reached `phase` (or gone past it)."""
        order = list(CrawlPhase)
        return order.index(CrawlPhase(self.phase)) >= order.index(phase)

    def with_changes(self, **changes: Any) -> CrawlRecord:
        """A copy with some fields changed (the ETag is kept for the conditional write)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The record as the ops routes and the CLI show it."""
        return {
            "id": self.crawl_id,
            "organizationId": self.organization_id,
            "kind": self.kind,
            "dryRun": self.dry_run,
            "trigger": self.trigger,
            "status": self.status,
            "phase": self.phase,
            "createdAt": to_iso(self.created_at) or None,
            "startedAt": to_iso(self.started_at) or None,
            "finishedAt": to_iso(self.finished_at) or None,
            "since": to_iso(self.since) or None,
            "totalPages": self.total_pages,
            "totalBatches": self.total_batches,
            "counts": self.counts,
            "credlyFilter": (
                {"outcome": self.credly_filter, "note": self.credly_filter_note}
                if self.credly_filter
                else None
            ),
            "failure": (
                {
                    "stage": self.failure_stage,
                    "message": self.failure_message,
                    "steps": list(self.failed_steps),
                }
                if self.status == CrawlStatus.FAILED
                else None
            ),
        }


def _to_entity(record: CrawlRecord) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": record.crawl_id,
        "organization_id": record.organization_id,
        "kind": record.kind,
        "trigger": record.trigger,
        "created_at": to_iso(record.created_at),
        "status": record.status,
        "phase": record.phase,
        "since": to_iso(record.since),
        "total_pages": -1 if record.total_pages is None else record.total_pages,
        "total_batches": -1 if record.total_batches is None else record.total_batches,
        "advanced_by": record.advanced_by,
        "followup_sent": record.followup_sent,
        "directory_version": record.directory_version,
        "started_at": to_iso(record.started_at),
        "finished_at": to_iso(record.finished_at),
        "counts": dumps(record.counts),
        "failure_stage": record.failure_stage,
        "failure_message": record.failure_message[:8000],
        "failed_steps": dumps(list(record.failed_steps)[:200]),
        "dry_run": record.dry_run,
        "fresh": record.fresh,
        "credly_filter": record.credly_filter,
        "credly_filter_note": record.credly_filter_note[:2000],
    }


def _from_entity(entity: Any) -> CrawlRecord:
    pages = int(entity.get("total_pages", -1))
    batches = int(entity.get("total_batches", -1))
    return CrawlRecord(
        crawl_id=str(entity["RowKey"]),
        organization_id=str(entity["organization_id"]),
        kind=str(entity["kind"]),
        trigger=str(entity.get("trigger", "")),
        created_at=from_iso(entity["created_at"]) or datetime.now(UTC),
        status=str(entity["status"]),
        phase=str(entity["phase"]),
        since=from_iso(entity.get("since")),
        total_pages=None if pages < 0 else pages,
        total_batches=None if batches < 0 else batches,
        advanced_by=str(entity.get("advanced_by", "")),
        followup_sent=bool(entity.get("followup_sent", False)),
        directory_version=str(entity.get("directory_version", "")),
        started_at=from_iso(entity.get("started_at")),
        finished_at=from_iso(entity.get("finished_at")),
        counts=loads(entity.get("counts"), {}),
        failure_stage=str(entity.get("failure_stage", "")),
        failure_message=str(entity.get("failure_message", "")),
        dry_run=bool(entity.get("dry_run", False)),
        fresh=bool(entity.get("fresh", False)),
        credly_filter=str(entity.get("credly_filter", "")),
        credly_filter_note=str(entity.get("credly_filter_note", "")),
        failed_steps=tuple(loads(entity.get("failed_steps"), [])),
        etag=etag_of(entity),
    )


class CrawlStore:
    """Crawl records in one partition, keyed by crawl id (newest first)."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._table = tables.table(ROLE)

    def create(self, record: CrawlRecord) -> CrawlRecord:
        """Store a new crawl record."""
        self._table.create_entity(_to_entity(record))
        found = self.get(record.crawl_id)
        assert found is not None
        return found

    def get(self, crawl_id: str) -> CrawlRecord | None:
        """A crawl record by id."""
        try:
            return _from_entity(self._table.get_entity(PARTITION, crawl_id))
        except ResourceNotFoundError:
            return None

    def save(self, record: CrawlRecord) -> CrawlRecord | None:
        """Write `record` if nobody changed it since it was read; None when someone did."""
        try:
            self._table.update_entity(
                _to_entity(record),
                mode=UpdateMode.REPLACE,
                etag=record.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return self.get(record.crawl_id)

    def update(
        self,
        crawl_id: str,
        change: Callable[[CrawlRecord], CrawlRecord | None],
        *,
        attempts: int = 20,
    ) -> CrawlRecord | None:
        """Apply `change` to the stored record, re-reading and re-applying it after a conflict.

        Args:
            crawl_id: The crawl.
            change: The new record from the current one, or None to leave it as it is.
            attempts: Rounds of reading and writing before giving up.

        Returns:
            The record as saved, or None when `change` declined or the crawl does not exist.

        Raises:
            ConflictError: When others kept changing the record for `attempts` rounds.
        """
        for _ in range(attempts):
            current = self.get(crawl_id)
            changed = None if current is None else change(current)
            if changed is None:
                return None
            saved = self.save(changed)
            if saved is not None:
                return saved
        msg = f"crawl {crawl_id} kept changing under us"
        raise ConflictError(msg)

    def latest(self, limit: int = 50, organization_id: str | None = None) -> list[CrawlRecord]:
        """The most recent crawls first, optionally of one organisation."""
        query = f"PartitionKey eq {quote(PARTITION)}"
        if organization_id is not None:
            query += f" and organization_id eq {quote(organization_id)}"
        found: list[CrawlRecord] = []
        for entity in self._table.query_entities(query, results_per_page=min(limit, 1000)):
            found.append(_from_entity(entity))
            if len(found) >= limit:
                break
        return found
