"""The connector's telemetry: spans, metrics and log context, through the OpenTelemetry API only.

The contract (metric names, attributes, when each is emitted) is in infra/README.md; the
workbook and the alert rules query exactly these names. Nothing here installs a provider or
an exporter: the Functions worker initialises Azure Monitor (OpenTelemetry mode), tests install
in-memory ones, and without either every call is a cheap no-op.
"""

from __future__ import annotations

from credly_connector.telemetry.instruments import (
    METRIC_NAMES,
    badges_changed,
    badges_fetched,
    badges_skipped,
    crawl_ended,
    credly_response,
    graph_response,
    items_deleted,
    items_unchanged,
    items_written,
    message_picked_up,
)
from credly_connector.telemetry.labels import (
    LABELS,
    Labels,
    adopt,
    annotate,
    crawl_attributes,
    current_labels,
    quiet_sdk_loggers,
    scope,
)

__all__ = [
    "LABELS",
    "METRIC_NAMES",
    "Labels",
    "adopt",
    "annotate",
    "badges_changed",
    "badges_fetched",
    "badges_skipped",
    "crawl_attributes",
    "crawl_ended",
    "credly_response",
    "current_labels",
    "graph_response",
    "items_deleted",
    "items_unchanged",
    "items_written",
    "message_picked_up",
    "quiet_sdk_loggers",
    "scope",
]
