"""Reading the settings: app settings in, one validated `Settings` (or every problem) out."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from credly_connector.settings.graph import read_graph
from credly_connector.settings.model import (
    CREDLY_PRODUCTION_API_URL,
    CREDLY_PRODUCTION_WEB_URL,
    CREDLY_SANDBOX_API_URL,
    CREDLY_SANDBOX_WEB_URL,
    DEFAULT_CREDLY_MAX_CONCURRENCY,
    DEFAULT_FULL_SCHEDULE,
    DEFAULT_INCREMENTAL_SCHEDULE,
    CrawlSettings,
    CredlySettings,
    Settings,
)
from credly_connector.settings.names import KNOWN_SETTINGS, unknown_settings
from credly_connector.settings.organizations import read_organizations
from credly_connector.settings.problems import SettingsError
from credly_connector.settings.storage import read_storage
from credly_connector.settings.values import SettingsReader

# The package's logger: operators filter the typo warnings by it.
log = logging.getLogger("credly_connector.settings")

# (API host, web host) pairs that mix Credly's sandbox and production.
_MIXED_HOSTS = {
    ("sandbox-api.credly.com", "www.credly.com"),
    ("api.credly.com", "sandbox.credly.com"),
}


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
    reader = SettingsReader(env)
    settings = Settings(
        credly=_read_credly(reader),
        graph=read_graph(reader),
        storage=read_storage(reader),
        crawl=_read_crawl(reader),
    )
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings


def _read_credly(r: SettingsReader) -> CredlySettings:
    api_url = r.url("CREDLY_API_URL", CREDLY_PRODUCTION_API_URL)
    # The web site follows the API's environment unless set: sandbox API, sandbox site.
    sandbox = api_url is not None and urlsplit(api_url).hostname == "sandbox-api.credly.com"
    web_url = r.url(
        "CREDLY_WEB_URL", CREDLY_SANDBOX_WEB_URL if sandbox else CREDLY_PRODUCTION_WEB_URL
    )
    if api_url and web_url:
        api_host, web_host = urlsplit(api_url).hostname, urlsplit(web_url).hostname
        if (api_host, web_host) in _MIXED_HOSTS:
            r.problem(
                "CREDLY_WEB_URL",
                f"points at {web_host} but CREDLY_API_URL points at {api_host}",
                f"use {CREDLY_SANDBOX_WEB_URL} with {CREDLY_SANDBOX_API_URL}, or "
                f"{CREDLY_PRODUCTION_WEB_URL} with {CREDLY_PRODUCTION_API_URL}",
            )
    organizations = read_organizations(r)
    return CredlySettings(
        organizations=organizations,
        api_url=api_url or CREDLY_PRODUCTION_API_URL,
        web_url=web_url or CREDLY_PRODUCTION_WEB_URL,
        organizations_setting=r.text("CREDLY_ORGANIZATIONS"),
        max_concurrency=r.integer("CREDLY_MAX_CONCURRENCY", DEFAULT_CREDLY_MAX_CONCURRENCY, 1, 64),
        rate=r.optional_rate("CREDLY_RATE", 1000.0),
    )


def _read_crawl(r: SettingsReader) -> CrawlSettings:
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
