"""Credly health checks: each organisation readable, in the right environment, token expiry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from credly_connector.credly.auth import CredlyAuth, OAuthAuth, TokenAuth
from credly_connector.credly.client import CredlyClient
from credly_connector.errors import (
    AuthenticationError,
    ConnectorError,
    NotFoundError,
    RetryableError,
)
from credly_connector.ops.checks import Check, describe_error, failed, passed
from credly_connector.retry import RetryPolicy
from credly_connector.settings import (
    CREDLY_PRODUCTION_API_URL,
    CREDLY_PRODUCTION_WEB_URL,
    CREDLY_SANDBOX_API_URL,
    CREDLY_SANDBOX_WEB_URL,
    CredlyOrganization,
    CredlySettings,
)

HEALTH_RETRY = RetryPolicy(attempts=2, budget_s=10.0, backoff_s=0.5)
PROBE_RETRY = RetryPolicy(attempts=1)
TIMEOUT = (5.0, 15.0)
WARN_WITHIN = timedelta(days=30)
"""Warn this long before an authorization token expires (they live 180 days)."""


@dataclass(frozen=True)
class CredlyEnvironment:
    """A Credly environment: its API and its web site (which hosts the OAuth endpoint)."""

    name: str
    api_url: str
    web_url: str


CREDLY_ENVIRONMENTS: tuple[CredlyEnvironment, ...] = (
    CredlyEnvironment("production", CREDLY_PRODUCTION_API_URL, CREDLY_PRODUCTION_WEB_URL),
    CredlyEnvironment("sandbox", CREDLY_SANDBOX_API_URL, CREDLY_SANDBOX_WEB_URL),
)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").casefold() == b.rstrip("/").casefold()


class CredlyHealth:
    """Checks the configured Credly organisations.

    Args:
        credly: The Credly settings.
        environments: The known environments, to name a wrong one (tests point them at
            stand-ins).
        now: Returns the current aware UTC time.
        retry: Retries of the configured environment's reads.
        warn_within: Warn when an authorization token expires sooner than this.
    """

    def __init__(
        self,
        credly: CredlySettings,
        *,
        environments: Sequence[CredlyEnvironment] = CREDLY_ENVIRONMENTS,
        now: Callable[[], datetime],
        retry: RetryPolicy = HEALTH_RETRY,
        warn_within: timedelta = WARN_WITHIN,
    ) -> None:
        """Checks of the Credly settings given."""
        self.credly = credly
        self.environments = tuple(environments)
        self.now = now
        self.retry = retry
        self.warn_within = warn_within
        known = [e for e in self.environments if _same_url(e.api_url, credly.api_url)]
        self.configured = (
            CredlyEnvironment(known[0].name, credly.api_url, credly.web_url)
            if known
            else CredlyEnvironment("configured", credly.api_url, credly.web_url)
        )

    def checks(self) -> list[Check]:
        """Per organisation: readable with its credentials, then the token expiry."""
        results: list[Check] = []
        for org in self.credly.organizations:
            with requests.Session() as session:
                client = self._client(org, self.configured, session, self.retry)
                readable = self._organization(org, client, session)
                results.append(readable)
                if readable.ok:
                    results.append(self._expiry(org, client))
        return results

    # -- organisation readable -------------------------------------------------------------

    def _client(
        self,
        org: CredlyOrganization,
        env: CredlyEnvironment,
        session: requests.Session,
        retry: RetryPolicy,
    ) -> CredlyClient:
        auth: CredlyAuth
        if org.auth_token:
            auth = TokenAuth(org.auth_token)
        else:
            token_url = f"{env.web_url.rstrip('/')}/oauth/token"
            auth = OAuthAuth(
                org.client_id or "", org.client_secret or "", token_url, session=session
            )
        return CredlyClient(
            env.api_url, org.id, auth, session=session, retry=retry, timeout=TIMEOUT
        )

    def _organization(
        self, org: CredlyOrganization, client: CredlyClient, session: requests.Session
    ) -> Check:
        name = f"credly organisation {org.id}"
        settings = " and ".join(org.credential_settings)
        env = self.configured
        try:
            record = client.organization()
        except (AuthenticationError, NotFoundError) as error:
            elsewhere = self._found_elsewhere(org, session)
            if elsewhere is not None:
                return failed(
                    name,
                    f"refused by the {env.name} API ({env.api_url})",
                    f"the credentials in {settings} belong to the {elsewhere.name} environment "
                    f"({elsewhere.api_url}), but CREDLY_API_URL points at {env.name}",
                    f"set CREDLY_API_URL to {elsewhere.api_url} and CREDLY_WEB_URL to "
                    f"{elsewhere.web_url}, or use credentials of the {env.name} environment",
                )
            return self._refused(org, error, settings)
        except RetryableError as error:
            cause, _ = describe_error(error, "")
            return failed(
                name,
                f"Credly at {env.api_url} did not answer",
                cause,
                "check CREDLY_API_URL and that the app can reach it; try again later",
            )
        except ConnectorError as error:
            cause, fix = describe_error(error, "check CREDLY_API_URL and the credentials")
            return failed(name, "the organisation could not be read", cause, fix)
        title = record.get("name") or "(no name)"
        return passed(
            name,
            f"{title!s} readable at {env.api_url} ({env.name}) with {settings}",
        )

    def _refused(self, org: CredlyOrganization, error: ConnectorError, settings: str) -> Check:
        name = f"credly organisation {org.id}"
        cause, _ = describe_error(error, "")
        where = self.configured.api_url
        if isinstance(error, NotFoundError):
            id_setting = (
                "CREDLY_ORGANIZATIONS"
                if self.credly.organizations_setting
                else ("CREDLY_ORGANIZATION_ID")
            )
            return failed(
                name,
                f"organisation {org.id} not found at {where}",
                cause,
                f"check {id_setting}: copy the organization id from the Credly Developers "
                "portal of the organisation these credentials belong to",
            )
        if org.auth_mode == "auth_token":
            fix = (
                f"check {settings}: an authorization token of organisation {org.id} with read "
                "access, not expired (tokens live 180 days); create a new one in the Credly "
                "Developers portal if needed"
            )
        else:
            fix = (
                f"check {settings} in the Credly Developers portal; a client secret that was "
                "not saved when it was created cannot be shown again: create a new OAuth "
                "application for new credentials"
            )
        return failed(name, f"credentials refused at {where}", cause, fix)

    def _found_elsewhere(
        self, org: CredlyOrganization, session: requests.Session
    ) -> CredlyEnvironment | None:
        """The other environment where these credentials read the organisation, if any."""
        for env in self.environments:
            if _same_url(env.api_url, self.configured.api_url):
                continue
            try:
                self._client(org, env, session, PROBE_RETRY).organization()
            except ConnectorError:
                continue
            return env
        return None

    # -- authorization token expiry --------------------------------------------------------

    def _expiry(self, org: CredlyOrganization, client: CredlyClient) -> Check:
        name = f"credly token expiry {org.id}"
        expires = self._reported_expiry(org, client)
        if isinstance(expires, str):
            return passed(name, expires)
        left = expires - self.now()
        stamp = f"{expires.isoformat(timespec='seconds')} ({left.days} days left)"
        renew = (
            f"create a new authorization token in the Credly Developers portal and put it in "
            f"{org.auth_token_setting}"
        )
        if left <= timedelta(0):
            return failed(name, f"expired {stamp}", "the authorization token has expired", renew)
        if left < self.warn_within:
            cause = f"the authorization token expires within {self.warn_within.days} days"
            return Check(name, "warn", f"expires {stamp}", cause, renew)
        return passed(name, f"expires {stamp}")

    def _reported_expiry(self, org: CredlyOrganization, client: CredlyClient) -> datetime | str:
        """When our authorization token expires, or why that is not known."""
        if not org.auth_token:
            return "OAuth client credentials: access tokens are renewed as needed"
        try:
            tokens = client.authorization_tokens()
        except ConnectorError:
            return "not reported: the token may not list authorization tokens"
        # Matched by value, which is never shown; other tokens' values are ignored.
        mine = next((t for t in tokens if t.get("token") == org.auth_token), None)
        if mine is None:
            return "not reported for this token"
        return _instant(mine.get("expires_at")) or "the token does not expire"


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
