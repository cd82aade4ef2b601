"""The Credly and Graph clients of the settings, with their shared budgets and observers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import requests
from azure.core.credentials import TokenCredential

from credly_connector import telemetry
from credly_connector.budget.credly import credly_budget
from credly_connector.budget.policy import RatePolicy
from credly_connector.budget.rate import SharedRate
from credly_connector.credly.auth import CredlyAuth, OAuthAuth, TokenAuth
from credly_connector.credly.client import CredlyClient
from credly_connector.errors import ConfigurationError
from credly_connector.graph.auth import graph_credential
from credly_connector.graph.client import GraphClient, open_graph_client
from credly_connector.graph.pacing import WritePacer, graph_budget_key
from credly_connector.http_environment import environment_session
from credly_connector.pipeline.context import GraphSession
from credly_connector.runtime.options import Hooks
from credly_connector.settings import Settings
from credly_connector.stores.budgets import BudgetStore
from credly_connector.stores.tables import Tables

# Writes per second a fleet without GRAPH_WRITE_RATE starts at, before it finds the limit.
GRAPH_START_RATE = 10.0


def credly_auth(
    settings: Settings, session: requests.Session, organization_id: str | None = None
) -> CredlyAuth:
    """Token (Basic) or OAuth client-credentials authentication of one organisation."""
    credly = settings.credly
    org = credly.organization(organization_id) if organization_id else credly.primary
    if org is None:
        raise ConfigurationError(
            f"Credly organisation {organization_id} is not configured.",
            fix="add it to CREDLY_ORGANIZATIONS (or CREDLY_ORGANIZATION_ID)",
        )
    if org.auth_token:
        return TokenAuth(org.auth_token)
    if not (org.client_id and org.client_secret):
        raise ConfigurationError(
            "No Credly credentials are configured.",
            fix="set CREDLY_AUTH_TOKEN, or CREDLY_CLIENT_ID and CREDLY_CLIENT_SECRET",
        )
    return OAuthAuth(org.client_id, org.client_secret, credly.token_url, session=session)


def credly_factory(
    settings: Settings, hooks: Hooks, tables: Tables | None = None
) -> Callable[[str], CredlyClient]:
    """Builds an organisation's Credly client (called once per organisation and process).

    With `tables`, every request holds the organisation's Credly budget, shared through them
    by every instance (`CREDLY_MAX_CONCURRENCY`, `CREDLY_RATE`, the 429 gate).
    """

    def build(organization_id: str) -> CredlyClient:
        session = hooks.credly_session or environment_session()
        budget = None
        if tables is not None:
            budget = credly_budget(
                tables,
                organization_id,
                settings.credly.max_concurrency,
                rate=settings.credly.rate,
            )
        return CredlyClient(
            settings.credly.api_url,
            organization_id,
            credly_auth(settings, session, organization_id),
            session=session,
            on_request=credly_observer(organization_id, hooks.credly_request),
            budget=budget,
        )

    return build


def credly_observer(
    organization_id: str, then: Callable[[str, int | None], None] | None
) -> Callable[[str, int | None], None]:
    """Counts an organisation's Credly responses in telemetry, then tells `then` (if any)."""

    def observe(label: str, status: int | None) -> None:
        telemetry.credly_response(organization_id, status)
        if then is not None:
            then(label, status)

    return observe


def graph_observer(
    then: Callable[[str, str, int | None], None] | None,
) -> Callable[[str, str, int | None], None]:
    """Counts Graph responses in telemetry, then tells `then` (if any)."""

    def observe(method: str, kind: str, status: int | None) -> None:
        telemetry.graph_response(status)
        if then is not None:
            then(method, kind, status)

    return observe


def _authority(settings: Settings) -> str | None:
    """The token authority for a loopback Graph (the stand-in serves its own token endpoint)."""
    parts = urlsplit(settings.graph.api_url)
    if parts.hostname in {"127.0.0.1", "localhost"}:
        return parts.netloc
    return None


def graph_pacer(settings: Settings, tables: Tables | None = None) -> WritePacer:
    """The process's item-write pacer; with `tables`, over the connection's shared budget.

    `GRAPH_WRITE_RATE` is the budget's ceiling and its start (told the limit, the fleet uses
    it at once); unset, the fleet starts at `GRAPH_START_RATE` and finds the limit itself.
    """
    crawl = settings.crawl
    if tables is None:
        return WritePacer(concurrency=crawl.graph_write_concurrency, rate=crawl.graph_write_rate)
    ceiling = crawl.graph_write_rate
    policy = RatePolicy(start=ceiling or GRAPH_START_RATE, ceiling=ceiling)
    budget = SharedRate(graph_budget_key(settings.graph.connection_id), BudgetStore(tables), policy)
    return WritePacer(concurrency=crawl.graph_write_concurrency, budget=budget)


def graph_factory(settings: Settings, hooks: Hooks, tables: Tables | None = None) -> GraphSession:
    """Opens a Graph client per event loop, sharing one credential and one write pacer.

    With `tables`, item writes hold the connection's write budget, shared through them by
    every instance (`GRAPH_WRITE_RATE` as its optional ceiling, the gate after a 429).
    """
    credential: TokenCredential | None = None
    verify: str | bool = str(settings.graph.ca_file) if settings.graph.ca_file else True
    pacer = graph_pacer(settings, tables)

    @asynccontextmanager
    async def session() -> AsyncIterator[GraphClient]:
        nonlocal credential
        if credential is None:
            credential = graph_credential(
                access_token=settings.graph.access_token,
                tenant_id=settings.graph.tenant_id,
                client_id=settings.graph.client_id,
                client_secret=settings.graph.client_secret,
                authority=_authority(settings),
                verify=str(settings.graph.ca_file) if settings.graph.ca_file else None,
            )
        async with open_graph_client(
            credential,
            base_url=settings.graph.api_url,
            verify=verify,
            pacer=pacer,
            on_request=graph_observer(hooks.graph_request),
        ) as client:
            yield client

    return session
