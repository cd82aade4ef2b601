"""The composition root's building blocks: settings in, a ready pipeline context out.

`function_app.py` and the command line both build their context here, once per process,
so the Functions host, the local dispatcher and the tests run the same wiring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from credly_connector import telemetry
from credly_connector.pipeline.context import CrawlContext, utc_now
from credly_connector.runtime.options import Hooks, pipeline_options
from credly_connector.runtime.services import (
    credly_auth,
    credly_factory,
    credly_observer,
    graph_factory,
    graph_observer,
    graph_pacer,
)
from credly_connector.runtime.storage import storage_clients, storage_origin
from credly_connector.settings import SettingProblem, Settings, SettingsError, load_settings

__all__ = [
    "Hooks",
    "build_context",
    "credly_auth",
    "credly_factory",
    "credly_observer",
    "graph_factory",
    "graph_observer",
    "graph_pacer",
    "host_context",
    "pipeline_options",
    "storage_clients",
    "storage_origin",
]


def build_context(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    hooks: Hooks | None = None,
    overrides: Callable[[], Mapping[str, str]] | None = None,
) -> CrawlContext:
    """The pipeline context for `settings` (no I/O until first used)."""
    hooks = hooks or Hooks()
    tables, queues = storage_clients(settings.storage, hooks)
    return CrawlContext(
        pipeline_options(settings),
        tables,
        queues,
        credly_factory(settings, hooks, tables),
        graph_factory(settings, hooks, tables),
        clock=clock,
        overrides=overrides,
    )


def host_context(environ: Mapping[str, str]) -> CrawlContext:
    """The context of a Functions worker, from its app settings.

    Raises:
        SettingsError: For invalid settings, and for `STORAGE_PREFIX`: the bindings listen
            on the fixed queue names, so a prefix would leave every message unheard.
    """
    settings = load_settings(environ)
    if settings.storage.prefix:
        raise SettingsError(
            [
                SettingProblem(
                    "STORAGE_PREFIX",
                    "is for local runs and tests; the bindings use fixed queue names",
                    "remove STORAGE_PREFIX from the app settings",
                )
            ]
        )
    telemetry.quiet_sdk_loggers()
    return build_context(settings)
