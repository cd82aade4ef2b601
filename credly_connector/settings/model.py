"""The typed settings model: frozen dataclasses per section, and the defaults they start from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from credly_connector.settings.names import SECRET_SETTINGS

CredlyAuthMode = Literal["auth_token", "client_credentials"]
GraphAuthMode = Literal["access_token", "client_secret", "managed_identity"]

CREDLY_PRODUCTION_API_URL = "https://api.credly.com/v1"
CREDLY_SANDBOX_API_URL = "https://sandbox-api.credly.com/v1"
CREDLY_PRODUCTION_WEB_URL = "https://www.credly.com"
CREDLY_SANDBOX_WEB_URL = "https://sandbox.credly.com"
DEFAULT_GRAPH_API_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_CONNECTION_ID = "credlybadges"
DEFAULT_INCREMENTAL_SCHEDULE = "0 0 2 * * *"
DEFAULT_FULL_SCHEDULE = "0 0 3 * * 0"
DEFAULT_CREDLY_MAX_CONCURRENCY = 4
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
"""Hosts where plain http (and a fixed Graph token) is allowed: the local stand-ins."""


@dataclass(frozen=True)
class CredlyOrganization:
    """One Credly organisation the connector reads, and the credentials it reads it with.

    The `*_setting` fields name the app settings the credentials came from, so a health
    check or an error can say which setting to fix.
    """

    id: str
    auth_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    auth_token_setting: str = "CREDLY_AUTH_TOKEN"  # noqa: S105 - a setting name
    client_id_setting: str = "CREDLY_CLIENT_ID"
    client_secret_setting: str = "CREDLY_CLIENT_SECRET"  # noqa: S105 - a setting name

    @property
    def auth_mode(self) -> CredlyAuthMode:
        """`auth_token` (organization token) or `client_credentials` (OAuth client)."""
        return "auth_token" if self.auth_token else "client_credentials"

    @property
    def credential_settings(self) -> tuple[str, ...]:
        """The app settings holding this organisation's credentials."""
        if self.auth_mode == "auth_token":
            return (self.auth_token_setting,)
        return (self.client_id_setting, self.client_secret_setting)


@dataclass(frozen=True)
class CredlySettings:
    """Where Credly is, the organisations the connector reads, and how hard it may ask.

    `max_concurrency` requests in flight and `rate` requests per second (None: no rate) are
    per organisation, shared by every instance of the app.
    """

    organizations: tuple[CredlyOrganization, ...]
    api_url: str = CREDLY_PRODUCTION_API_URL
    web_url: str = CREDLY_PRODUCTION_WEB_URL
    organizations_setting: str | None = None
    max_concurrency: int = DEFAULT_CREDLY_MAX_CONCURRENCY
    rate: float | None = None

    @property
    def primary(self) -> CredlyOrganization:
        """The first (usually the only) organisation."""
        return self.organizations[0] if self.organizations else CredlyOrganization("")

    @property
    def organization_ids(self) -> tuple[str, ...]:
        """Every configured organisation id, in the configured order."""
        return tuple(org.id for org in self.organizations)

    def organization(self, organization_id: str) -> CredlyOrganization | None:
        """The configured organisation with this id, if any."""
        return next((o for o in self.organizations if o.id == organization_id), None)

    @property
    def token_url(self) -> str:
        """Where OAuth client credentials are exchanged for a token."""
        return f"{self.web_url}/oauth/token"


@dataclass(frozen=True)
class GraphSettings:
    """Where and as whom the connector writes to Microsoft Graph."""

    api_url: str = DEFAULT_GRAPH_API_URL
    connection_id: str = DEFAULT_CONNECTION_ID
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    ca_file: Path | None = None

    @property
    def auth_mode(self) -> GraphAuthMode:
        """A fixed token (stand-ins only), an app secret, or a managed identity.

        With a managed identity, `client_id` selects a user-assigned identity; without it the
        system-assigned identity is used.
        """
        if self.access_token:
            return "access_token"
        return "client_secret" if self.client_secret else "managed_identity"


@dataclass(frozen=True)
class StorageSettings:
    """The storage account holding the connector's queues and tables.

    Either `connection_string` is set, or the identity-based `queue_url` and `table_url` are.
    `account_name` comes from the connection string when it names one. `prefix` starts the
    name of every queue and table (empty in a deployment; set by tests and the benchmark).
    """

    connection_string: str | None = field(default=None, repr=False)
    account_name: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    credential_client_id: str | None = None
    prefix: str = ""


@dataclass(frozen=True)
class CrawlSettings:
    """When the crawls run, what they index and how hard they push Graph."""

    incremental_schedule: str = DEFAULT_INCREMENTAL_SCHEDULE
    full_schedule: str = DEFAULT_FULL_SCHEDULE
    include_expired: bool = False
    index_skills: bool = False
    lease_minutes: int = 60
    profile_batch_size: int = 100
    # None: the fleet finds the connection's limit itself; set, its ceiling.
    graph_write_rate: float | None = None
    graph_write_concurrency: int = 8


@dataclass(frozen=True)
class Settings:
    """Everything the connector is configured with; build it with `load_settings`."""

    credly: CredlySettings
    graph: GraphSettings
    storage: StorageSettings
    crawl: CrawlSettings

    def redacted(self) -> dict[str, Any]:
        """The effective value of every known setting, secrets shown as "***" or "(not set)"."""
        credly, graph, storage, crawl = self.credly, self.graph, self.storage, self.crawl
        primary = credly.primary
        effective: dict[str, object] = {
            "CREDLY_ORGANIZATION_ID": primary.id,
            "CREDLY_ORGANIZATIONS": credly.organizations_setting,
            "CREDLY_AUTH_TOKEN": primary.auth_token,
            "CREDLY_CLIENT_ID": primary.client_id,
            "CREDLY_CLIENT_SECRET": primary.client_secret,
            "CREDLY_API_URL": credly.api_url,
            "CREDLY_WEB_URL": credly.web_url,
            "CREDLY_MAX_CONCURRENCY": credly.max_concurrency,
            "CREDLY_RATE": credly.rate,
            "GRAPH_API_URL": graph.api_url,
            "GRAPH_CONNECTION_ID": graph.connection_id,
            "AZURE_TENANT_ID": graph.tenant_id,
            "AZURE_CLIENT_ID": graph.client_id,
            "AZURE_CLIENT_SECRET": graph.client_secret,
            "GRAPH_ACCESS_TOKEN": graph.access_token,
            "GRAPH_CA_FILE": graph.ca_file,
            "AzureWebJobsStorage": storage.connection_string,
            "AzureWebJobsStorage__accountName": storage.account_name,
            "AzureWebJobsStorage__queueServiceUri": storage.queue_url,
            "AzureWebJobsStorage__tableServiceUri": storage.table_url,
            "AzureWebJobsStorage__clientId": storage.credential_client_id,
            "STORAGE_PREFIX": storage.prefix,
            "INCREMENTAL_CRAWL_SCHEDULE": crawl.incremental_schedule,
            "FULL_CRAWL_SCHEDULE": crawl.full_schedule,
            "INCLUDE_EXPIRED": crawl.include_expired,
            "INDEX_SKILLS": crawl.index_skills,
            "CRAWL_LEASE_MINUTES": crawl.lease_minutes,
            "GRAPH_WRITE_CONCURRENCY": crawl.graph_write_concurrency,
            "GRAPH_WRITE_RATE": crawl.graph_write_rate,
            "PROFILE_BATCH_SIZE": crawl.profile_batch_size,
        }
        return {name: _shown(name, value) for name, value in effective.items()}


def _shown(name: str, value: object) -> object:
    """A setting's value as the redacted view shows it."""
    if value is None or value == "":
        return "(not set)"
    if name in SECRET_SETTINGS:
        return "***"
    return str(value) if isinstance(value, Path) else value
