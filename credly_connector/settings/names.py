"""Setting names: which ones the connector reads, which hold secrets, and typo detection."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KNOWN_SETTINGS: tuple[str, ...] = (
    "CREDLY_ORGANIZATION_ID",
    "CREDLY_ORGANIZATIONS",
    "CREDLY_AUTH_TOKEN",
    "CREDLY_CLIENT_ID",
    "CREDLY_CLIENT_SECRET",
    "CREDLY_API_URL",
    "CREDLY_WEB_URL",
    "CREDLY_MAX_CONCURRENCY",
    "CREDLY_RATE",
    "GRAPH_API_URL",
    "GRAPH_CONNECTION_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "GRAPH_ACCESS_TOKEN",
    "GRAPH_CA_FILE",
    "AzureWebJobsStorage",
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__clientId",
    "STORAGE_PREFIX",
    "INCREMENTAL_CRAWL_SCHEDULE",
    "FULL_CRAWL_SCHEDULE",
    "INCLUDE_EXPIRED",
    "INDEX_SKILLS",
    "CRAWL_LEASE_MINUTES",
    "GRAPH_WRITE_CONCURRENCY",
    "GRAPH_WRITE_RATE",
    "PROFILE_BATCH_SIZE",
)
"""Every app setting `load_settings` reads, in the order `Settings.redacted` shows them."""

HOST_SETTINGS: tuple[str, ...] = ("FUNCTIONS_WORKER_RUNTIME",)
"""App settings the Functions host reads that the connector itself ignores."""

SECRET_SETTINGS = frozenset(
    {
        "CREDLY_AUTH_TOKEN",
        "CREDLY_CLIENT_SECRET",
        "AZURE_CLIENT_SECRET",
        "GRAPH_ACCESS_TOKEN",
        "AzureWebJobsStorage",
    }
)
"""Known settings whose values are never shown (a connection string may hold an account key)."""

PREFIXES = ("CREDLY_", "GRAPH_", "CRAWL_", "PROFILE_", "INCLUDE_", "INDEX_")
"""Prefixes of the connector's own settings: an unknown name with one of them is likely a typo."""

READ_ELSEWHERE: tuple[str, ...] = (
    # The deployment's azd environment (infra/main.parameters.json, infra/main.bicep outputs):
    # present in the environment of azd hooks and of a workstation that loaded it.
    "CREDLY_ORGANIZATIONS_JSON",
    "CREDLY_SECRET_NAMES",
    "GRAPH_AUTH",
    "GRAPH_CLIENT_ID",
)
"""Settings with the connector's prefixes that other parts of the product read, not the app."""

_CREDENTIAL_KEYS = ("authTokenSetting", "clientIdSetting", "clientSecretSetting")
_CUTOFF = 0.6


@dataclass(frozen=True)
class UnknownSetting:
    """A setting with one of the connector's prefixes that nothing reads.

    Attributes:
        name: The setting as given.
        closest: The known setting it most resembles, or None when none is close.
    """

    name: str
    closest: str | None

    @property
    def message(self) -> str:
        """One line saying what is wrong, with the likely intended name."""
        guess = f"; did you mean {self.closest}?" if self.closest else ""
        return f"{self.name} is not a setting the connector reads{guess}"

    @property
    def fix(self) -> str:
        """What the administrator should do."""
        if self.closest:
            return f"rename {self.name} to {self.closest} (or remove it)"
        return f"remove {self.name}, or see the README's settings table for the names"


def named_credentials(env: Mapping[str, str]) -> tuple[str, ...]:
    """The credential settings CREDLY_ORGANIZATIONS names (any it names, even if invalid)."""
    try:
        entries = json.loads(env.get("CREDLY_ORGANIZATIONS", "") or "[]")
    except ValueError:
        return ()
    if not isinstance(entries, list):
        return ()
    return tuple(
        value
        for entry in entries
        if isinstance(entry, dict)
        for key in _CREDENTIAL_KEYS
        if isinstance(value := entry.get(key), str) and value
    )


def unknown_settings(env: Mapping[str, str], known: Iterable[str]) -> tuple[UnknownSetting, ...]:
    """Settings in `env` with one of `PREFIXES` that are neither known nor read elsewhere.

    Args:
        env: The app settings (e.g. `os.environ`).
        known: Every setting the connector reads (`KNOWN_SETTINGS`); the credential settings
            named in CREDLY_ORGANIZATIONS and `READ_ELSEWHERE` are added here.

    Returns:
        Each unknown setting with its closest known name, sorted by name.
    """
    names = {*known, *READ_ELSEWHERE, *named_credentials(env)}
    by_upper = {name.upper(): name for name in names}
    found = []
    for name in sorted(env):
        if name in names or not name.upper().startswith(PREFIXES):
            continue
        found.append(UnknownSetting(name, _closest(name.upper(), by_upper)))
    return tuple(found)


def _closest(upper: str, by_upper: Mapping[str, str]) -> str | None:
    # A name differing only in case is surely meant (environment names are case-sensitive).
    if upper in by_upper:
        return by_upper[upper]
    matches = difflib.get_close_matches(upper, list(by_upper), n=1, cutoff=_CUTOFF)
    return by_upper[matches[0]] if matches else None
