"""In-memory OpenTelemetry providers, set once per session, and per-test views of the signals.

The OpenTelemetry API accepts one global tracer and meter provider per process, so the
providers are installed once; each test clears the span exporter and drains the metric
reader first (delta temporality: a collection returns only what was recorded since the last
one), then reads what its own code emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.pipeline.conftest import make_pipeline  # noqa: F401 - re-exported fixture


@dataclass
class Providers:
    """The process's in-memory exporter and reader."""

    spans: InMemorySpanExporter
    reader: InMemoryMetricReader


_providers: Providers | None = None


def _install() -> Providers:
    global _providers  # noqa: PLW0603 - the API allows one global provider per process
    if _providers is None:
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tracer_provider)
        reader = InMemoryMetricReader(
            preferred_temporality={
                Counter: AggregationTemporality.DELTA,
                Histogram: AggregationTemporality.DELTA,
            }
        )
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _providers = Providers(exporter, reader)
    return _providers


@dataclass(frozen=True)
class Point:
    """One metric data point: a counter's sum or a histogram's count and sum."""

    name: str
    attributes: dict[str, Any]
    value: float
    count: int = 0


class Recorder(logging.Handler):
    """Keeps every record that reaches the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Signals:
    """What the code under test emitted since the test began."""

    providers: Providers
    logs: Recorder
    _points: list[Point] = field(default_factory=list)

    def spans(self) -> list[ReadableSpan]:
        return list(self.providers.spans.get_finished_spans())

    def points(self) -> list[Point]:
        """Every data point recorded so far in this test (collected on each call)."""
        data = self.providers.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes or {})
                        if isinstance(point, HistogramDataPoint):
                            self._points.append(
                                Point(metric.name, attributes, point.sum, point.count)
                            )
                        elif isinstance(point, NumberDataPoint):
                            self._points.append(Point(metric.name, attributes, point.value))
        return list(self._points)

    def named(self, name: str, **attributes: str) -> list[Point]:
        """The points of metric `name` whose attributes include `attributes`."""
        return [
            p
            for p in self.points()
            if p.name == name and all(p.attributes.get(k) == v for k, v in attributes.items())
        ]

    def total(self, name: str, **attributes: str) -> float:
        """The sum of `name` over the points whose attributes include `attributes`."""
        return sum(p.value for p in self.named(name, **attributes))


@pytest.fixture
def signals() -> Iterator[Signals]:
    """Spans, metric points and log records (INFO and up) emitted during the test."""
    providers = _install()
    providers.spans.clear()
    providers.reader.get_metrics_data()  # drain what earlier tests recorded
    recorder = Recorder()
    root = logging.getLogger()
    package = logging.getLogger("credly_connector")
    level = package.level
    package.setLevel(logging.INFO)
    root.addHandler(recorder)
    try:
        yield Signals(providers, recorder)
    finally:
        root.removeHandler(recorder)
        package.setLevel(level)
