"""Telemetry scopes: a span per stage, and its labels on every log record emitted inside it."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

from opentelemetry import trace

from credly_connector import __version__

INSTRUMENTATION_NAME = "credly_connector"

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


def _tracer() -> trace.Tracer:
    # The API hands out a proxy until a provider is set, so asking each time is cheap.
    return trace.get_tracer(INSTRUMENTATION_NAME, __version__)


def quiet_sdk_loggers() -> None:
    """Keep the SDKs' HTTP loggers at WARNING (called once by each composition root)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
