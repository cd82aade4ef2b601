"""Reading the settings: app settings in, one validated `Settings` (or every problem) out."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from credly_connector.settings.credly import read_credly
from credly_connector.settings.graph import read_graph
from credly_connector.settings.model import (
    DEFAULT_FULL_SCHEDULE,
    DEFAULT_INCREMENTAL_SCHEDULE,
    CrawlSettings,
    Settings,
)
from credly_connector.settings.names import KNOWN_SETTINGS, unknown_settings
from credly_connector.settings.problems import SettingsError
from credly_connector.settings.storage import read_storage
from credly_connector.settings.values import ValueReader

# Named after the package, not this module: log filters set on it keep working.
log = logging.getLogger("credly_connector.settings")


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse and validate the connector's settings from app settings (e.g. `os.environ`).

    Empty values count as unset, as the Functions host and local.settings.json keep them.
    An unknown setting with one of the connector's prefixes (a likely typo) is logged as a
    warning naming the closest known setting.

    Raises:
        SettingsError: Listing every problem found, each with the setting and its fix.
    """
    for unknown in unknown_settings(env, KNOWN_SETTINGS):
        # A warning, not a problem: a typo'd optional setting must not stop the app.
        log.warning("%s (fix: %s)", unknown.message, unknown.fix)
    reader = ValueReader(env)
    settings = Settings(
        credly=read_credly(reader),
        graph=read_graph(reader),
        storage=read_storage(reader),
        crawl=_read_crawl(reader),
    )
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings


def _read_crawl(r: ValueReader) -> CrawlSettings:
    return CrawlSettings(
        incremental_schedule=r.schedule("INCREMENTAL_CRAWL_SCHEDULE", DEFAULT_INCREMENTAL_SCHEDULE),
        full_schedule=r.schedule("FULL_CRAWL_SCHEDULE", DEFAULT_FULL_SCHEDULE),
        include_expired=r.boolean("INCLUDE_EXPIRED", default=False),
        index_skills=r.boolean("INDEX_SKILLS", default=False),
        lease_minutes=r.integer("CRAWL_LEASE_MINUTES", 60, 5, 1440),
        profile_batch_size=r.integer("PROFILE_BATCH_SIZE", 100, 1, 500),
        graph_write_rate=r.optional_rate("GRAPH_WRITE_RATE", 1000.0),
        graph_write_concurrency=r.integer("GRAPH_WRITE_CONCURRENCY", 8, 1, 64),
    )
