"""Health: settings, Credly, Graph and crawls, each a check that names its cause and fix.

Health reads the raw app settings rather than a built context, so invalid settings become
failed checks instead of an error; no answer ever carries a secret value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core.exceptions import AzureError, ResourceNotFoundError

from credly_connector.ops.answers import Answer
from credly_connector.ops.checks import Check, failed, passed, secret_values
from credly_connector.ops.health_credly import (
    CREDLY_ENVIRONMENTS,
    HEALTH_RETRY,
    WARN_WITHIN,
    CredlyEnvironment,
    CredlyHealth,
)
from credly_connector.ops.health_graph import GraphHealth, token_check
from credly_connector.pipeline.context import utc_now
from credly_connector.pipeline.query import CredlyFilter
from credly_connector.runtime import storage_clients
from credly_connector.settings import KNOWN_SETTINGS, Settings, SettingsError, load_settings
from credly_connector.settings.names import unknown_settings
from credly_connector.stores.crawls import CrawlStatus, CrawlStore
from credly_connector.stores.orgstate import OrganizationStateStore

FIRST_CRAWL = (
    'run setup, then POST /api/ops/crawls {"kind": "full"} '
    "(or python -m credly_connector crawl --kind full)"
)
_MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
# A crawl still queued this long after it was requested: nothing processes the queues.
STALE_QUEUED = timedelta(minutes=5)
# How many of an organisation's latest crawls are looked at for one still queued.
QUEUED_LOOKBACK = 10
NO_TRIGGERS = (
    "the queue triggers are not running: in Azure, check the function app is running and its"
    " storage connection; locally, start the host with python -m devstack host, or run"
    " python -m credly_connector crawl to resume it here"
)


@dataclass(frozen=True)
class HealthReport:
    """Every check, in order, and the groups that could not be checked."""

    checks: tuple[Check, ...]
    not_checked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every check passed (warnings allowed) and nothing was left unchecked."""
        return not self.not_checked and all(check.ok for check in self.checks)

    def answer(self) -> Answer:
        """200 when healthy, 503 otherwise; the body lists every check."""
        body = {
            "ok": self.ok,
            "checks": [check.to_json() for check in self.checks],
            "notChecked": list(self.not_checked),
        }
        return Answer(200 if self.ok else 503, body)

    def render(self) -> str:
        """The checks as lines for a terminal."""
        lines = []
        for check in self.checks:
            lines.append(f"{_MARKS[check.status]}  {check.name}: {check.detail}")
            if check.cause:
                lines.append(f"      cause: {check.cause}")
            if check.fix:
                lines.append(f"      fix: {check.fix}")
        if self.not_checked:
            lines.append(f"not checked (the settings are invalid): {', '.join(self.not_checked)}")
        return "\n".join(lines)


def check_health(
    env: Mapping[str, str],
    *,
    environments: Sequence[CredlyEnvironment] = CREDLY_ENVIRONMENTS,
    now: Callable[[], datetime] = utc_now,
) -> HealthReport:
    """Run every check against the app settings `env` (e.g. `os.environ`).

    Args:
        env: The raw app settings.
        environments: The Credly environments a refused credential is tried against, to
            name a wrong `CREDLY_API_URL`.
        now: The current aware UTC time (token expiry, crawl ages).

    Returns:
        The report; it never raises for a failure it can name.
    """
    secrets = secret_values(env)
    typos = setting_name_checks(env)
    try:
        settings = load_settings(env)
    except SettingsError as error:
        checks = [
            failed(f"setting {p.setting}", "invalid", p.message, p.fix) for p in error.problems
        ]
        checks += typos
        report = HealthReport(tuple(checks), ("credly", "graph", "crawls"))
        return _redacted(report, secrets)
    secrets += [
        value
        for org in settings.credly.organizations
        for value in (org.auth_token, org.client_secret)
        if value
    ]
    checks = [passed("settings", _summary(settings)), *typos]
    checks += CredlyHealth(
        settings.credly,
        environments=environments,
        now=now,
        retry=HEALTH_RETRY,
        warn_within=WARN_WITHIN,
    ).checks()
    token, credential = token_check(settings.graph)
    checks.append(token)
    if credential is not None:
        try:
            checks += asyncio.run(GraphHealth(settings.graph).checks(credential))
        finally:
            close = getattr(credential, "close", None)
            if callable(close):
                close()
    checks += crawl_checks(settings, now)
    return _redacted(HealthReport(tuple(checks)), secrets)


def health(env: Mapping[str, str]) -> Answer:
    """`GET ops/health`: 200 when every check passes, 503 otherwise."""
    return check_health(env).answer()


def setting_name_checks(env: Mapping[str, str]) -> list[Check]:
    """A warning per unknown setting with one of the connector's prefixes (a likely typo)."""
    return [
        Check(f"setting {unknown.name}", "warn", "unknown setting", unknown.message, unknown.fix)
        for unknown in unknown_settings(env, KNOWN_SETTINGS)
    ]


def crawl_checks(settings: Settings, now: Callable[[], datetime]) -> list[Check]:
    """Per organisation: when a full and an incremental crawl last succeeded."""
    storage_fix = "check AzureWebJobsStorage and that the storage account is reachable"
    try:
        tables = storage_clients(settings.storage)[0]
    except (AzureError, ValueError) as exc:
        return [failed("storage", "no storage client", f"{type(exc).__name__}: {exc}", storage_fix)]
    store, crawls = OrganizationStateStore(tables), CrawlStore(tables)
    checks = []
    for org in settings.credly.organizations:
        queued = queued_check(crawls, org.id, now)
        if queued is not None:
            checks.append(queued)
        credly_filter = filter_check(crawls, org.id)
        if credly_filter is not None:
            checks.append(credly_filter)
        name = f"crawls {org.id}"
        try:
            state = store.get(org.id)
        except AzureError as exc:
            cause = f"the crawl state could not be read: {type(exc).__name__}: {exc.message}"
            checks.append(failed(name, "unknown", cause, storage_fix))
            continue
        full, incremental = state.last_full_success, state.last_incremental_success
        if full is None and incremental is None:
            cause = "no full or incremental crawl of this organisation has succeeded"
            checks.append(failed(name, "no crawl completed yet", cause, FIRST_CRAWL))
            continue
        detail = (
            f"last full crawl {_age(full, now)}; last incremental crawl {_age(incremental, now)}"
        )
        checks.append(passed(name, detail))
    return checks


def queued_check(
    crawls: CrawlStore, organization_id: str, now: Callable[[], datetime]
) -> Check | None:
    """A check of the organisation's queued crawls; None when no crawl is queued.

    A queued crawl's start message has not been processed yet. One queued for longer than
    `STALE_QUEUED` means nothing processes the queues, and the crawl holds the
    organisation's lease meanwhile: a failed check.
    """
    name = f"crawl queue {organization_id}"
    try:
        latest = crawls.latest(QUEUED_LOOKBACK, organization_id)
    except ResourceNotFoundError:
        return None  # no crawl table yet: no crawl either
    except AzureError as exc:
        cause = f"the crawls could not be read: {type(exc).__name__}: {exc.message}"
        return failed(name, "unknown", cause, "check AzureWebJobsStorage")
    waiting = [c for c in latest if c.status == CrawlStatus.QUEUED]
    if not waiting:
        return None
    oldest = min(waiting, key=lambda c: c.created_at)
    waited = now() - oldest.created_at
    minutes = int(waited.total_seconds() // 60)
    if waited <= STALE_QUEUED:
        return passed(name, f"crawl {oldest.crawl_id} queued {minutes} min ago")
    cause = (
        f"crawl {oldest.crawl_id} has waited {minutes} minutes queued: no message of it has"
        " been processed"
    )
    return failed(name, f"crawl {oldest.crawl_id} stuck in queued", cause, NO_TRIGGERS)


def filter_check(crawls: CrawlStore, organization_id: str) -> Check | None:
    """A warning when the latest filtered crawl found Credly ignoring or refusing its filter.

    Either way the crawls stay exact; but every incremental crawl then reads the whole
    organisation, as slow as a full one. None when the filter worked or none was sent yet.
    """
    try:
        latest = crawls.latest(QUEUED_LOOKBACK, organization_id)
    except AzureError:
        return None  # the queue check names the storage problem
    recent = next((c for c in latest if c.credly_filter), None)
    if recent is None or recent.credly_filter == CredlyFilter.APPLIED:
        return None
    what = "ignored" if recent.credly_filter == CredlyFilter.IGNORED else "refused"
    return Check(
        f"credly filter {organization_id}",
        "warn",
        f"Credly {what} the incremental filter: incremental crawls read every badge",
        f"crawl {recent.crawl_id}: {recent.credly_filter_note}",
        "nothing is wrong with the results (crawls stay exact), only slower; if incremental "
        "crawls take too long, run them less often (INCREMENTAL_CRAWL_SCHEDULE) and ask Credly "
        "support whether issued badges take filter=updated_at_min::YYYY-MM-DD",
    )


def _age(when: datetime | None, now: Callable[[], datetime]) -> str:
    if when is None:
        return "none yet"
    hours = (now() - when).total_seconds() / 3600
    ago = f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"
    return f"{when.isoformat(timespec='seconds')} ({ago})"


def _summary(settings: Settings) -> str:
    orgs = len(settings.credly.organizations)
    return (
        f"{orgs} Credly organisation{'' if orgs == 1 else 's'} at {settings.credly.api_url}; "
        f"Graph connection {settings.graph.connection_id} at {settings.graph.api_url} "
        f"({settings.graph.auth_mode.replace('_', ' ')})"
    )


def _redacted(report: HealthReport, secrets: list[str]) -> HealthReport:
    return HealthReport(tuple(c.redacted(secrets) for c in report.checks), report.not_checked)
