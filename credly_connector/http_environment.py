"""What the process environment tells HTTP clients, read once at start instead of per request.

A requests session rereads the whole environment on every request (proxy variables with
`NO_PROXY`, CA bundle variables, netrc), which costs about 0.6 ms of CPU per request: more
than signing a storage request. The environment does not change while a worker runs, so the
sessions made here read it once: a CA bundle variable becomes the session's verify setting,
exactly what requests would have read, and only a proxy or netrc variable (a choice made per
host) keeps requests reading it per request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import requests

# What makes reading the environment on every request worth it: proxies (chosen per host,
# `NO_PROXY` included) and netrc.
PER_REQUEST_SETTINGS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "NETRC")
# The CA bundle variables, in the order requests reads them.
CA_BUNDLE_SETTINGS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def reads_per_request(environ: Mapping[str, str]) -> bool:
    """Whether requests must keep reading proxy settings from the environment per request."""
    names = {name.upper() for name, value in environ.items() if value}
    return any(name in names for name in PER_REQUEST_SETTINGS)


def ca_bundle(environ: Mapping[str, str]) -> bool | str:
    """What requests would verify TLS against: the first CA bundle variable set, else True."""
    for name in CA_BUNDLE_SETTINGS:
        if environ.get(name):
            return environ[name]
    return True


def environment_session(environ: Mapping[str, str] | None = None) -> requests.Session:
    """A requests session that read `environ` (default the process's) once, here."""
    environ = os.environ if environ is None else environ
    session = requests.Session()
    session.trust_env = reads_per_request(environ)
    session.verify = ca_bundle(environ)
    return session
