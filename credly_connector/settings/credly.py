"""The Credly section: the API and web site of one environment (never mixed), the organisations."""

from __future__ import annotations

from urllib.parse import urlsplit

from credly_connector.settings.model import (
    CREDLY_PRODUCTION_API_URL,
    CREDLY_PRODUCTION_WEB_URL,
    CREDLY_SANDBOX_API_URL,
    CREDLY_SANDBOX_WEB_URL,
    DEFAULT_CREDLY_MAX_CONCURRENCY,
    CredlySettings,
)
from credly_connector.settings.organizations import read_organizations
from credly_connector.settings.values import ValueReader

# (API host, web host) pairs that mix Credly's sandbox and production.
_MIXED_HOSTS = {
    ("sandbox-api.credly.com", "www.credly.com"),
    ("api.credly.com", "sandbox.credly.com"),
}


def read_credly(r: ValueReader) -> CredlySettings:
    """The Credly section: where Credly is, the organisations, and how hard to ask."""
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
