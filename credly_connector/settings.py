"""The connector's settings: one frozen, typed value parsed once from the app settings."""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from credly_connector.errors import ConfigurationError
from credly_connector.setting_names import unknown_settings

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
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
# Queue names are at most 63 characters; the longest of ours ("crawl-profiles-poison") is 21.
MAX_PREFIX = 24
DEFAULT_CREDLY_MAX_CONCURRENCY = 4

# Each app setting `load_settings` reads -> where its effective value lives in `Settings`.
_SETTING_FIELDS: dict[str, str] = {
    "CREDLY_ORGANIZATION_ID": "credly.organization_id",
    "CREDLY_ORGANIZATIONS": "credly.organizations_setting",
    "CREDLY_AUTH_TOKEN": "credly.auth_token",
    "CREDLY_CLIENT_ID": "credly.client_id",
    "CREDLY_CLIENT_SECRET": "credly.client_secret",
    "CREDLY_API_URL": "credly.api_url",
    "CREDLY_WEB_URL": "credly.web_url",
    "CREDLY_MAX_CONCURRENCY": "credly.max_concurrency",
    "CREDLY_RATE": "credly.rate",
    "GRAPH_API_URL": "graph.api_url",
    "GRAPH_CONNECTION_ID": "graph.connection_id",
    "AZURE_TENANT_ID": "graph.tenant_id",
    "AZURE_CLIENT_ID": "graph.client_id",
    "AZURE_CLIENT_SECRET": "graph.client_secret",
    "GRAPH_ACCESS_TOKEN": "graph.access_token",
    "GRAPH_CA_FILE": "graph.ca_file",
    "AzureWebJobsStorage": "storage.connection_string",
    "AzureWebJobsStorage__accountName": "storage.account_name",
    "AzureWebJobsStorage__queueServiceUri": "storage.queue_url",
    "AzureWebJobsStorage__tableServiceUri": "storage.table_url",
    "AzureWebJobsStorage__clientId": "storage.credential_client_id",
    "STORAGE_PREFIX": "storage.prefix",
    "INCREMENTAL_CRAWL_SCHEDULE": "crawl.incremental_schedule",
    "FULL_CRAWL_SCHEDULE": "crawl.full_schedule",
    "INCLUDE_EXPIRED": "crawl.include_expired",
    "INDEX_SKILLS": "crawl.index_skills",
    "CRAWL_LEASE_MINUTES": "crawl.lease_minutes",
    "GRAPH_WRITE_CONCURRENCY": "crawl.graph_write_concurrency",
    "GRAPH_WRITE_RATE": "crawl.graph_write_rate",
    "PROFILE_BATCH_SIZE": "crawl.profile_batch_size",
}
KNOWN_SETTINGS: tuple[str, ...] = tuple(_SETTING_FIELDS)
"""Every app setting `load_settings` reads."""

HOST_SETTINGS: tuple[str, ...] = ("FUNCTIONS_WORKER_RUNTIME",)
"""App settings the Functions host reads that the connector itself ignores."""

_SECRETS = frozenset(
    {
        "CREDLY_AUTH_TOKEN",
        "CREDLY_CLIENT_SECRET",
        "AZURE_CLIENT_SECRET",
        "GRAPH_ACCESS_TOKEN",
        "AzureWebJobsStorage",
    }
)
_RESERVED_CONNECTION_IDS = frozenset(
    name.casefold()
    for name in [
        "None",
        "Directory",
        "Exchange",
        "ExchangeArchive",
        "LinkedIn",
        "Mailbox",
        "OneDriveBusiness",
        "SharePoint",
        "Teams",
        "Yammer",
        "Connectors",
        "TaskFabric",
        "PowerBI",
        "Assistant",
        "TopicEngine",
        "MSFT_All_Connectors",
    ]
)
_MONTHS = "JANUARY FEBRUARY MARCH APRIL MAY JUNE JULY AUGUST SEPTEMBER OCTOBER NOVEMBER DECEMBER"
_DAYS = "SUNDAY MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY"
# (name, lowest, highest, names numbered from `lowest`) for each NCRONTAB field, in order.
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, tuple(_MONTHS.split())),
    ("day-of-week", 0, 6, tuple(_DAYS.split())),
)
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_ORG_ID_FIX = (
    "copy the organization id (a GUID) from the Credly Developers portal "
    "(Settings > Developers / Organization ID)"
)


@dataclass(frozen=True)
class SettingProblem:
    """One thing wrong with one setting, and how to fix it."""

    setting: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}. Fix: {self.fix}"


class SettingsError(ConfigurationError):
    """The settings cannot be used; `problems` lists every problem found, not just the first.

    Attributes:
        problems: Each problem with the setting it concerns and its fix.
    """

    def __init__(self, problems: Sequence[SettingProblem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"The connector's settings have {count} problem{'' if count == 1 else 's'}:"
        super().__init__("\n".join([header, *map(str, self.problems)]))


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
    """Where Credly is, the organisations (with their credentials) the connector reads, and
    how hard it may ask.

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
    def organization_id(self) -> str:
        """The first organisation's id."""
        return self.primary.id

    @property
    def auth_token(self) -> str | None:
        """The first organisation's authorization token."""
        return self.primary.auth_token

    @property
    def client_id(self) -> str | None:
        """The first organisation's OAuth client id."""
        return self.primary.client_id

    @property
    def client_secret(self) -> str | None:
        """The first organisation's OAuth client secret."""
        return self.primary.client_secret

    @property
    def auth_mode(self) -> CredlyAuthMode:
        """How the first organisation authenticates."""
        return self.primary.auth_mode

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
    `account_name` comes from the connection string when it names one.
    """

    connection_string: str | None = field(default=None, repr=False)
    account_name: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    credential_client_id: str | None = None
    prefix: str = ""

    def name_for(self, base: str) -> str:
        """The queue or table name `base` with this deployment's prefix."""
        return f"{self.prefix}{base}"


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

    @property
    def credly_token_url(self) -> str:
        """Where Credly OAuth client credentials are exchanged for a token."""
        return self.credly.token_url

    @property
    def graph_auth_mode(self) -> GraphAuthMode:
        """How the connector authenticates to Graph (see `GraphSettings.auth_mode`)."""
        return self.graph.auth_mode

    def redacted(self) -> dict[str, Any]:
        """The effective value of every known setting, secrets shown as "***" or "(not set)"."""
        shown: dict[str, Any] = {}
        for name, path in _SETTING_FIELDS.items():
            section, attribute = path.split(".")
            value = getattr(getattr(self, section), attribute)
            if value is None or value == "":
                shown[name] = "(not set)"
            elif name in _SECRETS:
                shown[name] = "***"
            else:
                shown[name] = str(value) if isinstance(value, Path) else value
        return shown


class _Reader:
    """Reads typed values from the app settings, collecting every problem instead of raising."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[SettingProblem] = []

    def problem(self, setting: str, message: str, fix: str) -> None:
        self.problems.append(SettingProblem(setting, message, fix))

    def text(self, name: str) -> str | None:
        # The Functions host and local.settings.json keep unset values as empty strings.
        return self.env.get(name, "").strip() or None

    def guid(self, name: str, fix: str) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            self.problem(name, f"{value!r} is not a GUID", fix)
            return None

    def url(self, name: str, default: str | None) -> str | None:
        value = self.text(name) or default
        if value is None:
            return None
        fix = f"set an absolute https URL such as {default or 'https://...'}"
        try:
            parts = urlsplit(value)
            scheme, host = parts.scheme, parts.hostname
        except ValueError:  # e.g. an unbalanced "[" in the host
            scheme, host = "", None
        if scheme not in ("http", "https") or not host:
            self.problem(name, f"{value!r} is not an absolute http(s) URL", fix)
            return None
        if scheme == "http" and host not in LOOPBACK_HOSTS:
            self.problem(
                name, f"{value!r} uses http, allowed only for 127.0.0.1/localhost stand-ins", fix
            )
            return None
        return value.rstrip("/")

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in _BOOLEANS:
            self.problem(name, f"{value!r} is not a boolean", "set true or false (or yes/no, 1/0)")
            return default
        return _BOOLEANS[value.lower()]

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        if re.fullmatch(r"[+-]?\d+", value) and low <= int(value) <= high:
            return int(value)
        fix = f"set a whole number from {low} to {high} (default {default})"
        self.problem(name, f"{value!r} is not a whole number from {low} to {high}", fix)
        return default

    def rate(self, name: str, default: float, high: float) -> float:
        found = self._positive(name, high, f" (default {default:g})")
        return default if found is None else found

    def optional_rate(self, name: str, high: float) -> float | None:
        return self._positive(name, high, ", or leave it empty for no rate")

    def _positive(self, name: str, high: float, otherwise: str) -> float | None:
        """The number in `name` when above 0 and at most `high`; None when unset or wrong."""
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and 0 < number <= high:
            return number
        fix = f"set a number above 0 and at most {high:g}{otherwise}"
        self.problem(name, f"{value!r} is not a number above 0 and at most {high:g}", fix)
        return None

    def schedule(self, name: str, default: str) -> str:
        value = self.text(name) or default
        reason = _schedule_problem(value)
        if reason:
            fix = f"use six fields (second minute hour day month day-of-week), e.g. {default!r}"
            self.problem(name, f"{value!r} {reason}", fix)
            return default
        return value


def _cron_number(token: str, low: int, names: tuple[str, ...]) -> int | None:
    """The number `token` stands for in a field: digits, or a month/day name or abbreviation."""
    if token.isdigit():
        return int(token)
    upper = token.upper()
    return next((low + i for i, name in enumerate(names) if upper in (name, name[:3])), None)


def _schedule_problem(schedule: str) -> str | None:
    """Why `schedule` is not a six-field NCRONTAB expression, or None when it is one."""
    fields = schedule.split()
    if len(fields) != len(_CRON_FIELDS):
        return f"has {len(fields)} fields, not six"
    for text, (field_name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        allowed = r"[0-9A-Za-z*/,\-]+" if names else r"[0-9*/,\-]+"
        if not re.fullmatch(allowed, text):
            return f"has characters not allowed in the {field_name} field ({text!r})"
        for part in text.split(","):
            span, slash, step = part.partition("/")
            if slash and not (step.isdigit() and int(step) > 0):
                return f"has a bad step in the {field_name} field ({part!r})"
            if span == "*":
                continue
            numbers = [_cron_number(token, low, names) for token in span.split("-")]
            if len(numbers) > 2 or any(n is None or not low <= n <= high for n in numbers):
                return f"has {part!r} in the {field_name} field, which allows {low}-{high}"
    return None


def _connection_id_problem(value: str) -> str | None:
    """Why Graph would refuse `value` as a connection id, or None."""
    if not (3 <= len(value) <= 32 and value.isascii() and value.isalnum()):
        return f"{value!r} is not 3-32 letters and digits"
    if value.casefold().startswith("microsoft") or value.casefold() in _RESERVED_CONNECTION_IDS:
        return f"{value!r} is reserved by Microsoft"
    return None


def _prefix_problem(value: str) -> str | None:
    """Why `value` cannot prefix queue and table names, or None."""
    if len(value) > MAX_PREFIX:
        return f"{value!r} is longer than {MAX_PREFIX} characters"
    if not re.fullmatch(r"[a-z0-9]*", value):
        return f"{value!r} has characters other than lower-case letters and digits"
    if value and not value[0].isalpha():
        return f"{value!r} does not start with a letter"
    return None


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in LOOPBACK_HOSTS


def _read_credly(r: _Reader) -> CredlySettings:
    api_url = r.url("CREDLY_API_URL", CREDLY_PRODUCTION_API_URL)
    # The web site follows the API's environment unless set: sandbox API, sandbox site.
    sandbox = api_url is not None and urlsplit(api_url).hostname == "sandbox-api.credly.com"
    web_url = r.url(
        "CREDLY_WEB_URL", CREDLY_SANDBOX_WEB_URL if sandbox else CREDLY_PRODUCTION_WEB_URL
    )
    if api_url and web_url:
        api_host, web_host = urlsplit(api_url).hostname, urlsplit(web_url).hostname
        if (api_host, web_host) in {
            ("sandbox-api.credly.com", "www.credly.com"),
            ("api.credly.com", "sandbox.credly.com"),
        }:
            r.problem(
                "CREDLY_WEB_URL",
                f"points at {web_host} but CREDLY_API_URL points at {api_host}",
                f"use {CREDLY_SANDBOX_WEB_URL} with {CREDLY_SANDBOX_API_URL}, or "
                f"{CREDLY_PRODUCTION_WEB_URL} with {CREDLY_PRODUCTION_API_URL}",
            )
    listed = r.text("CREDLY_ORGANIZATIONS")
    if listed is not None:
        organizations = _read_organization_list(r, listed)
    else:
        organizations = _read_single_organization(r)
    return CredlySettings(
        organizations=organizations,
        api_url=api_url or CREDLY_PRODUCTION_API_URL,
        web_url=web_url or CREDLY_PRODUCTION_WEB_URL,
        organizations_setting=listed,
        max_concurrency=r.integer("CREDLY_MAX_CONCURRENCY", DEFAULT_CREDLY_MAX_CONCURRENCY, 1, 64),
        rate=r.optional_rate("CREDLY_RATE", 1000.0),
    )


def _read_single_organization(r: _Reader) -> tuple[CredlyOrganization, ...]:
    organization_id = r.guid("CREDLY_ORGANIZATION_ID", _ORG_ID_FIX)
    if r.text("CREDLY_ORGANIZATION_ID") is None:
        r.problem("CREDLY_ORGANIZATION_ID", "is not set", _ORG_ID_FIX)
    credentials = _read_credentials(
        r, "CREDLY_AUTH_TOKEN", "CREDLY_CLIENT_ID", "CREDLY_CLIENT_SECRET"
    )
    if organization_id is None or credentials is None:
        return ()
    return (CredlyOrganization(organization_id, *credentials),)


def _read_credentials(
    r: _Reader, token_setting: str, id_setting: str, secret_setting: str
) -> tuple[str | None, str | None, str | None, str, str, str] | None:
    """(token, client id, client secret, and the three setting names), or None on a problem."""
    token = r.text(token_setting) if token_setting else None
    client_id = r.text(id_setting) if id_setting else None
    secret = r.text(secret_setting) if secret_setting else None
    if token and (client_id or secret):
        r.problem(
            token_setting,
            f"is set together with {id_setting}/{secret_setting}",
            "keep either the organization token or the OAuth client id and secret, not both",
        )
        return None
    if bool(client_id) != bool(secret):
        missing = (secret_setting if client_id else id_setting) or "CREDLY_ORGANIZATIONS"
        given = id_setting if client_id else secret_setting
        r.problem(missing, f"is not set but {given} is", f"set {missing} as well")
        return None
    if not (token or client_id):
        named = token_setting or id_setting
        r.problem(
            named,
            "no Credly credentials are set",
            f"set {token_setting or 'an auth token setting'} to an organization authorization "
            f"token, or set {id_setting or 'a client id setting'} and "
            f"{secret_setting or 'a client secret setting'} to an OAuth client's credentials",
        )
        return None
    return token, client_id, secret, token_setting, id_setting, secret_setting


_ORGANIZATIONS_FIX = (
    'set a JSON list such as [{"id": "<GUID>", "authTokenSetting": "CREDLY_TOKEN_ACME"}] or '
    '[{"id": "<GUID>", "clientIdSetting": "...", "clientSecretSetting": "..."}]; the secrets '
    "stay in the settings named there"
)
_ORGANIZATION_KEYS = frozenset({"id", "authTokenSetting", "clientIdSetting", "clientSecretSetting"})


def _read_organization_list(r: _Reader, listed: str) -> tuple[CredlyOrganization, ...]:
    name = "CREDLY_ORGANIZATIONS"
    try:
        entries = json.loads(listed)
    except ValueError:
        r.problem(name, "is not valid JSON", _ORGANIZATIONS_FIX)
        return ()
    if not isinstance(entries, list) or not entries:
        r.problem(name, "is not a non-empty JSON list", _ORGANIZATIONS_FIX)
        return ()
    if r.text("CREDLY_ORGANIZATION_ID") is not None:
        r.problem(
            "CREDLY_ORGANIZATION_ID",
            "is set together with CREDLY_ORGANIZATIONS",
            "remove CREDLY_ORGANIZATION_ID; list every organisation in CREDLY_ORGANIZATIONS",
        )
    organizations: list[CredlyOrganization] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{name}[{number}]"
        if not isinstance(entry, dict):
            r.problem(name, f"entry {number} is not a JSON object", _ORGANIZATIONS_FIX)
            continue
        unknown = sorted(set(entry) - _ORGANIZATION_KEYS)
        if unknown:
            r.problem(name, f"entry {number} has unknown keys {unknown}", _ORGANIZATIONS_FIX)
            continue
        settings = [entry.get(key, "") for key in sorted(_ORGANIZATION_KEYS - {"id"})]
        if not all(isinstance(value, str) for value in [entry.get("id"), *settings]):
            r.problem(name, f"entry {number} has a value that is not a string", _ORGANIZATIONS_FIX)
            continue
        try:
            organization_id = str(uuid.UUID(entry.get("id", "")))
        except ValueError:
            r.problem(name, f"{where}.id {entry.get('id')!r} is not a GUID", _ORG_ID_FIX)
            continue
        if any(o.id == organization_id for o in organizations):
            r.problem(name, f"{where} repeats organisation {organization_id}", "list it once")
            continue
        credentials = _read_credentials(
            r,
            entry.get("authTokenSetting", ""),
            entry.get("clientIdSetting", ""),
            entry.get("clientSecretSetting", ""),
        )
        if credentials is not None:
            organizations.append(CredlyOrganization(organization_id, *credentials))
    return tuple(organizations)


def _read_graph(r: _Reader) -> GraphSettings:
    api_url = r.url("GRAPH_API_URL", DEFAULT_GRAPH_API_URL)
    connection_id = r.text("GRAPH_CONNECTION_ID") or DEFAULT_CONNECTION_ID
    if reason := _connection_id_problem(connection_id):
        fix = (
            f"use 3-32 letters and digits not starting with Microsoft, e.g. {DEFAULT_CONNECTION_ID}"
        )
        r.problem("GRAPH_CONNECTION_ID", reason, fix)
    tenant_id = r.guid(
        "AZURE_TENANT_ID", "copy the Directory (tenant) ID, a GUID, from the Entra admin center"
    )
    client_id, secret = r.text("AZURE_CLIENT_ID"), r.text("AZURE_CLIENT_SECRET")
    token = r.text("GRAPH_ACCESS_TOKEN")
    if token and api_url and not _is_loopback(api_url):
        r.problem(
            "GRAPH_ACCESS_TOKEN",
            "is for the local stand-ins only, but GRAPH_API_URL is not on 127.0.0.1/localhost",
            "remove GRAPH_ACCESS_TOKEN and use AZURE_CLIENT_SECRET or a managed identity",
        )
    if token and secret:
        r.problem(
            "GRAPH_ACCESS_TOKEN",
            "is set together with AZURE_CLIENT_SECRET",
            "keep only one way to authenticate to Graph",
        )
    if secret:
        for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID"):
            if r.text(name) is None:
                fix = f"set {name} to the app registration's {name.split('_')[1].lower()} id"
                r.problem(name, "is required with AZURE_CLIENT_SECRET", fix)
    ca_file = r.text("GRAPH_CA_FILE")
    if ca_file and not Path(ca_file).is_file():
        fix = "point it at an existing PEM CA bundle, or leave it empty"
        r.problem("GRAPH_CA_FILE", f"{ca_file!r} is not a file", fix)
    return GraphSettings(
        api_url=api_url or DEFAULT_GRAPH_API_URL,
        connection_id=connection_id,
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=secret,
        access_token=token,
        ca_file=Path(ca_file) if ca_file else None,
    )


def _parse_connection_string(value: str) -> dict[str, str] | None:
    """The `key=value` pairs of a storage connection string (keys lower-cased), or None."""
    pairs = [part.partition("=") for part in value.split(";") if part.strip()]
    if not pairs or any(not sep or not key.strip() for key, sep, _ in pairs):
        return None
    return {key.strip().lower(): item.strip() for key, _, item in pairs}


def _read_storage(r: _Reader) -> StorageSettings:
    prefix = r.text("STORAGE_PREFIX") or ""
    if reason := _prefix_problem(prefix):
        fix = (
            f"use up to {MAX_PREFIX} lower-case letters and digits starting with a letter, "
            "or leave it empty"
        )
        r.problem("STORAGE_PREFIX", reason, fix)
        prefix = ""
    connection_string = r.text("AzureWebJobsStorage")
    account = r.text("AzureWebJobsStorage__accountName")
    queue_url = r.url("AzureWebJobsStorage__queueServiceUri", None)
    table_url = r.url("AzureWebJobsStorage__tableServiceUri", None)
    # Presence, not validity: an invalid URI is reported by `url` and must not count as missing.
    given = {
        kind: r.text(f"AzureWebJobsStorage__{kind}ServiceUri") is not None
        for kind in ("queue", "table")
    }
    if connection_string:
        pairs = _parse_connection_string(connection_string) or {}
        if pairs.get("usedevelopmentstorage", "").lower() == "true":
            account = "devstoreaccount1"
        elif pairs.get("accountname") and pairs.get("accountkey"):
            account = pairs["accountname"]
        else:  # never echo the value: it may hold an account key
            r.problem(
                "AzureWebJobsStorage",
                "is not a storage connection string with AccountName and AccountKey",
                "copy the connection string from the storage account's Access keys, "
                "or use UseDevelopmentStorage=true with Azurite",
            )
    elif account:
        if not re.fullmatch(r"[a-z0-9]{3,24}", account):
            fix = "use the storage account's name: 3-24 lower-case letters and digits"
            r.problem("AzureWebJobsStorage__accountName", f"{account!r} is not valid", fix)
        queue_url = queue_url or f"https://{account}.queue.core.windows.net"
        table_url = table_url or f"https://{account}.table.core.windows.net"
    elif given["queue"] != given["table"]:
        missing = "tableServiceUri" if given["queue"] else "queueServiceUri"
        r.problem(
            f"AzureWebJobsStorage__{missing}",
            "is not set but the other service URI is",
            "set both service URIs, or AzureWebJobsStorage__accountName instead",
        )
    elif not given["queue"]:
        r.problem(
            "AzureWebJobsStorage",
            "no storage account is set",
            "set a connection string (or UseDevelopmentStorage=true for Azurite), or the "
            "identity-based AzureWebJobsStorage__accountName (or __queueServiceUri and "
            "__tableServiceUri)",
        )
    return StorageSettings(
        connection_string=connection_string,
        account_name=account,
        queue_url=queue_url,
        table_url=table_url,
        credential_client_id=r.text("AzureWebJobsStorage__clientId"),
        prefix=prefix,
    )


def _read_crawl(r: _Reader) -> CrawlSettings:
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
        logging.getLogger(__name__).warning("%s (fix: %s)", unknown.message, unknown.fix)
    reader = _Reader(env)
    settings = Settings(
        credly=_read_credly(reader),
        graph=_read_graph(reader),
        storage=_read_storage(reader),
        crawl=_read_crawl(reader),
    )
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings
