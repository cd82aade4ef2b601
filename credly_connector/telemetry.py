"""The connector's telemetry: spans, metrics and log context, through the OpenTelemetry API only.

The contract (metric names, attributes, when each is emitted) is in infra/README.md; the
workbook and the alert rules query exactly these names. Nothing here installs a provider or
an exporter: the Functions worker initialises Azure Monitor (OpenTelemetry mode), tests install
in-memory ones, and without either every call is a cheap no-op.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace

from credly_connector import __version__

if TYPE_CHECKING:
    from credly_connector.stores.crawls import CrawlRecord

INSTRUMENTATION_NAME = "credly_connector"

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

LABELS = ("crawl_id", "organization_id", "stage")
"""What a scope puts on its span and on every log record emitted inside it."""

QUIET_LOGGERS = (
    "azure",
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.identity",
    "httpx",
    "httpcore",
    "urllib3",
    "kiota_abstractions",
    "kiota_authentication_azure",
    "kiota_http",
    "msgraph",
    "msgraph_core",
)
"""SDK loggers kept at WARNING: at INFO they log every request, headers and URLs included."""

Labels = Mapping[str, str]

_EMPTY: Labels = MappingProxyType({})
_labels: ContextVar[Labels] = ContextVar("credly_connector_telemetry_labels", default=_EMPTY)


class _LabelFilter(logging.Filter):
    """Copies the open scope's labels onto each record that does not carry them already."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _labels.get().items():
            # An explicit `extra=` wins; the OTel handler turns record attributes into
            # customDimensions.
            record.__dict__.setdefault(key, value)
        return True


_FILTER = _LabelFilter()


def _join_root_handlers() -> None:
    """Put the label filter on every handler of the root logger (a no-op once it is there).

    A filter on a handler sees the records of every logger that propagates to it, which a
    filter on our package logger would not (logger filters skip child loggers' records).
    Joining at each scope also covers handlers added after the first one, e.g. a test's.
    """
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def _clean(**labels: str | None) -> dict[str, str]:
    return {key: value for key, value in labels.items() if value}


@contextmanager
def scope(
    *, stage: str, crawl_id: str | None = None, organization_id: str | None = None
) -> Iterator[None]:
    """Run a block as one stage of the connector: a span, and labelled log records.

    Opens a span named `stage` with the labels as attributes (it records an escaping
    exception and ends with an error status), and makes every log record emitted inside,
    on this thread or in asyncio tasks started from it, carry the labels as attributes.
    Labels that are None or empty are left out (a webhook has no crawl id).

    Args:
        stage: A crawl stage (`start`, `pages`, `plan`, `profiles`, `finish`) or the entry
            point outside a crawl (`timer`, `ops`, `webhook`).
        crawl_id: The crawl the block works for.
        organization_id: The Credly organisation it works for.
    """
    labels = _clean(crawl_id=crawl_id, organization_id=organization_id, stage=stage)
    _join_root_handlers()
    token = _labels.set(MappingProxyType(labels))
    try:
        with _tracer().start_as_current_span(stage, attributes=labels):
            yield
    finally:
        _labels.reset(token)


def annotate(*, crawl_id: str | None = None, organization_id: str | None = None) -> None:
    """Add labels to the open scope once they are known (e.g. after reading the crawl record).

    Applies to the current span and to the records logged from now on until the scope ends.
    Outside a scope (every scope labels its stage) only the current span gets them: labels
    set there would outlive the caller and mark every later record of the thread.
    """
    added = _clean(crawl_id=crawl_id, organization_id=organization_id)
    if not added:
        return
    current = _labels.get()
    if "stage" in current:
        _labels.set(MappingProxyType({**current, **added}))
    trace.get_current_span().set_attributes(added)


def current_labels() -> Labels:
    """The labels of the open scope (empty outside one)."""
    return _labels.get()


def adopt(labels: Labels) -> None:
    """Give the calling thread a scope's labels: a thread pool's initializer.

    Worker threads start with an empty context, so records they log would lose the labels
    of the scope that submitted the work; only use this on threads owned by that scope.
    """
    _labels.set(MappingProxyType(dict(labels)))


def crawl_attributes(crawl_id: str, organization_id: str) -> dict[str, str]:
    """The attributes of the per-crawl counters."""
    return {"crawl_id": crawl_id, "organization_id": organization_id}


# -- metrics --------------------------------------------------------------------------------


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


def _tracer() -> trace.Tracer:
    # The API hands out a proxy until a provider is set, so asking each time is cheap.
    return trace.get_tracer(INSTRUMENTATION_NAME, __version__)


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


# -- logging --------------------------------------------------------------------------------


def quiet_sdk_loggers() -> None:
    """Keep the SDKs' HTTP loggers at WARNING (called once by each composition root)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
