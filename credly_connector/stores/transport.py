"""The HTTP transport the table and queue clients share: one large pool, lean requests.

The Azure SDK's default transport gives each client a requests session whose pool keeps 10
connections per host: with a page's or a batch's table threads plus the dispatcher's, more
than 10 are in flight, and every connection past the tenth is opened for one request and
thrown away. Its session also rereads the whole process environment on every request to
look for proxy settings, which costs more CPU than signing the request. Here the pool holds
enough connections for every thread, and the environment is consulted once, at start: when
no proxy or CA bundle variable is set, requests stop looking.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import requests
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# Connections kept per host: above the most threads that reach storage at once (the
# dispatcher's workers times a stage's table threads).
POOL_CONNECTIONS = 64
# What makes requests read the environment worth it: proxies, CA bundles, netrc.
ENVIRONMENT_SETTINGS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NETRC",
)


def uses_environment(environ: Mapping[str, str]) -> bool:
    """Whether requests must keep reading proxy and CA settings from the environment."""
    names = {name.upper() for name, value in environ.items() if value}
    return any(name in names for name in ENVIRONMENT_SETTINGS)


def storage_session(environ: Mapping[str, str] | None = None) -> requests.Session:
    """A session with a pool for every storage thread and no redirects or retries of its own.

    The SDK's retry policy retries (and counts) failed requests; urllib3 must not retry
    underneath it.
    """
    session = requests.Session()
    session.trust_env = uses_environment(os.environ if environ is None else environ)
    adapter = HTTPAdapter(
        pool_connections=POOL_CONNECTIONS,
        pool_maxsize=POOL_CONNECTIONS,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def storage_transport(session: requests.Session | None = None) -> RequestsTransport:
    """An SDK transport over `session` (by default a new `storage_session()`)."""
    return RequestsTransport(session=session or storage_session(), session_owner=False)
