"""The connector's settings: one frozen, typed value parsed once from the app settings.

Where to look:
    model: the dataclasses (`Settings` and its sections) and the defaults.
    reader: `load_settings`, app settings in, `Settings` (or every problem) out; the crawl
        section.
    values: reading one typed value (text, GUID, URL, boolean, number, schedule).
    credly: the Credly section: API and web URLs of one environment, never mixed.
    organizations: CREDLY_ORGANIZATION_ID or the CREDLY_ORGANIZATIONS list, with credentials.
    graph: the Graph section, with the connection ids Microsoft reserves.
    storage: the storage section, with the connection-string parser and the name prefix.
    ncrontab: the timer schedules' six-field NCRONTAB check.
    problems: `SettingProblem` (setting, message, fix) and `SettingsError` listing them all.
    names: the known setting names, the secret ones, and typo detection for unknown ones.

A new setting: its name in `names.KNOWN_SETTINGS` (and `SECRET_SETTINGS` if secret), a field
in its section's dataclass, its line in `Settings.redacted`, and its read in its section's
reader; then the README's settings table, local.settings.sample.json and infra.
"""

from __future__ import annotations

from credly_connector.settings.model import (
    CREDLY_PRODUCTION_API_URL,
    CREDLY_PRODUCTION_WEB_URL,
    CREDLY_SANDBOX_API_URL,
    CREDLY_SANDBOX_WEB_URL,
    DEFAULT_CONNECTION_ID,
    DEFAULT_CREDLY_MAX_CONCURRENCY,
    DEFAULT_FULL_SCHEDULE,
    DEFAULT_GRAPH_API_URL,
    DEFAULT_INCREMENTAL_SCHEDULE,
    LOOPBACK_HOSTS,
    CrawlSettings,
    CredlyOrganization,
    CredlySettings,
    GraphSettings,
    Settings,
    StorageSettings,
)
from credly_connector.settings.names import HOST_SETTINGS, KNOWN_SETTINGS
from credly_connector.settings.problems import SettingProblem, SettingsError
from credly_connector.settings.reader import load_settings

__all__ = [
    "CREDLY_PRODUCTION_API_URL",
    "CREDLY_PRODUCTION_WEB_URL",
    "CREDLY_SANDBOX_API_URL",
    "CREDLY_SANDBOX_WEB_URL",
    "DEFAULT_CONNECTION_ID",
    "DEFAULT_CREDLY_MAX_CONCURRENCY",
    "DEFAULT_FULL_SCHEDULE",
    "DEFAULT_GRAPH_API_URL",
    "DEFAULT_INCREMENTAL_SCHEDULE",
    "HOST_SETTINGS",
    "KNOWN_SETTINGS",
    "LOOPBACK_HOSTS",
    "CrawlSettings",
    "CredlyOrganization",
    "CredlySettings",
    "GraphSettings",
    "SettingProblem",
    "Settings",
    "SettingsError",
    "StorageSettings",
    "load_settings",
]
