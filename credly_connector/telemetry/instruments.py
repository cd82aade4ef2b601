"""The metrics of the telemetry contract: their names, instruments, and one call per event."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import metrics

from credly_connector import __version__
from credly_connector.telemetry.labels import INSTRUMENTATION_NAME, Labels, crawl_attributes

if TYPE_CHECKING:
    from credly_connector.stores.crawls import CrawlRecord

BADGES_FETCHED = "credly.badges.fetched"
BADGES_CHANGED = "credly.badges.changed"
ITEMS_WRITTEN = "graph.items.written"
ITEMS_DELETED = "graph.items.deleted"
ITEMS_UNCHANGED = "graph.items.unchanged"
BADGES_SKIPPED = "badges.skipped"
CREDLY_REQUESTS = "credly.requests"
CREDLY_THROTTLED = "credly.throttled"
GRAPH_REQUESTS = "graph.requests"
GRAPH_THROTTLED = "graph.throttled"
CRAWL_DURATION = "crawl.duration"
QUEUE_MESSAGE_AGE = "queue.message.age"
METRIC_NAMES = (
    BADGES_FETCHED,
    BADGES_CHANGED,
    ITEMS_WRITTEN,
    ITEMS_DELETED,
    ITEMS_UNCHANGED,
    BADGES_SKIPPED,
    CREDLY_REQUESTS,
    CREDLY_THROTTLED,
    GRAPH_REQUESTS,
    GRAPH_THROTTLED,
    CRAWL_DURATION,
    QUEUE_MESSAGE_AGE,
)
"""Every metric of the contract."""


@dataclass(frozen=True)
class _Instruments:
    badges_fetched: metrics.Counter
    badges_changed: metrics.Counter
    items_written: metrics.Counter
    items_deleted: metrics.Counter
    items_unchanged: metrics.Counter
    badges_skipped: metrics.Counter
    credly_requests: metrics.Counter
    credly_throttled: metrics.Counter
    graph_requests: metrics.Counter
    graph_throttled: metrics.Counter
    crawl_duration: metrics.Histogram
    queue_message_age: metrics.Histogram


_instruments_lock = threading.Lock()
_created: _Instruments | None = None


def _instruments() -> _Instruments:
    """The contract's instruments, created once (on first use: nothing happens at import)."""
    global _created  # noqa: PLW0603 - one set of instruments per process
    with _instruments_lock:
        if _created is None:
            meter = metrics.get_meter(INSTRUMENTATION_NAME, __version__)

            def counter(name: str, unit: str, description: str) -> metrics.Counter:
                return meter.create_counter(name, unit=unit, description=description)

            _created = _Instruments(
                counter(BADGES_FETCHED, "{badge}", "Badges read from Credly"),
                counter(BADGES_CHANGED, "{badge}", "Badges whose stored content changed"),
                counter(ITEMS_WRITTEN, "{item}", "External items written (PUT)"),
                counter(ITEMS_DELETED, "{item}", "External items deleted"),
                counter(ITEMS_UNCHANGED, "{item}", "Items not written: content hash unchanged"),
                counter(BADGES_SKIPPED, "{badge}", "Badges not on a profile, by reason"),
                counter(CREDLY_REQUESTS, "{request}", "Credly HTTP responses"),
                counter(CREDLY_THROTTLED, "{request}", "Credly 429 responses"),
                counter(GRAPH_REQUESTS, "{request}", "Graph HTTP responses"),
                counter(GRAPH_THROTTLED, "{request}", "Graph 429 responses"),
                meter.create_histogram(
                    CRAWL_DURATION, unit="s", description="Crawl duration, at its final status"
                ),
                meter.create_histogram(
                    QUEUE_MESSAGE_AGE, unit="s", description="Queue message age at pickup"
                ),
            )
        return _created


def badges_fetched(count: int, crawl: Labels) -> None:
    """`count` badges were read from Credly (every listed badge, usable or not)."""
    _instruments().badges_fetched.add(count, crawl)


def badges_changed(count: int, crawl: Labels) -> None:
    """`count` badges were created, updated or moved in the badge store."""
    _instruments().badges_changed.add(count, crawl)


def items_written(count: int, crawl: Labels) -> None:
    """`count` external items were written to Graph."""
    _instruments().items_written.add(count, crawl)


def items_deleted(count: int, crawl: Labels) -> None:
    """`count` external items were deleted from Graph."""
    _instruments().items_deleted.add(count, crawl)


def items_unchanged(count: int, crawl: Labels) -> None:
    """`count` items were not written because their content hash was unchanged."""
    _instruments().items_unchanged.add(count, crawl)


def badges_skipped(reasons: Mapping[str, int], crawl: Labels) -> None:
    """Badges left off profiles, counted by reason (`rules.reasons.ALL_REASONS`)."""
    counter = _instruments().badges_skipped
    for reason, count in reasons.items():
        if count:
            counter.add(count, {**crawl, "reason": reason})


def credly_response(organization_id: str, status_code: int | None) -> None:
    """Credly answered a request of `organization_id` (None: no answer, nothing counted)."""
    if status_code is None:
        return
    found = _instruments()
    found.credly_requests.add(
        1, {"organization_id": organization_id, "status_code": str(status_code)}
    )
    if status_code == 429:
        found.credly_throttled.add(1, {"organization_id": organization_id})


def graph_response(status_code: int | None) -> None:
    """Graph answered a request (None: no answer, nothing counted)."""
    if status_code is None:
        return
    found = _instruments()
    found.graph_requests.add(1, {"status_code": str(status_code)})
    if status_code == 429:
        found.graph_throttled.add(1)


def crawl_ended(record: CrawlRecord) -> None:
    """A crawl's record was saved with its final status: its duration since it started.

    Call only where the final status was actually saved, so each ending counts once (a
    failed crawl retried to success ends twice, and the workbook shows its latest ending).
    """
    if record.finished_at is None:
        return
    began = record.started_at or record.created_at
    seconds = max((record.finished_at - began).total_seconds(), 0.0)
    _instruments().crawl_duration.record(
        seconds,
        {
            **crawl_attributes(record.crawl_id, record.organization_id),
            "crawl_kind": record.kind,
            "status": record.status,
            "dry_run": "true" if record.dry_run else "false",
        },
    )


def message_picked_up(stage: str, queue: str, age_s: float) -> None:
    """A queue message was picked up `age_s` seconds after it was enqueued."""
    _instruments().queue_message_age.record(max(age_s, 0.0), {"stage": stage, "queue": queue})
