"""The HTTP transport the table and queue clients share: one large pool, lean requests.

The Azure SDK's default transport gives each client a requests session whose pool keeps 10
connections per host: with a page's or a batch's table threads plus the dispatcher's, more
than 10 are in flight, and every connection past the tenth is opened for one request and
thrown away. Its session also rereads the whole process environment on every request.
Here the pool holds enough connections for every thread, and the environment is read once,
at start (`credly_connector/http_environment.py`); the SDK passes its own verify setting with
every request, so a CA bundle variable becomes the transport's.

Until the account has answered once, a request that cannot even connect (refused, unknown
host, TLS) is the settings' fault or a missing emulator: it is raised as a
`StorageUnreachableError` naming the setting and the fix, which the command line prints as one
line. After the first answer the same failure is an outage and stays a plain retryable error.

A write whose connection broke before its answer came (a pooled connection the account closed
as it was reused, a reset mid-answer) is sent again here, whatever its method: the SDK's own
policy retries only GET, PUT, DELETE and HEAD on such errors, and a lost answer to a
transaction or a conditional update would otherwise fail a whole profile batch after its
Graph writes. Sending a storage write again is safe in this connector: upserts are
idempotent, a conditional write or a create that had applied comes back refused (412, 409),
which every caller already handles as another writer's (the same as a handler run twice),
and a queue message sent twice is a redelivery, which at-least-once queues allow anyway.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError
from urllib3.util.retry import Retry

from credly_connector.errors import StorageUnreachableError
from credly_connector.http_environment import ca_bundle, environment_session

# Connections kept per host: above the most threads that reach storage at once (the
# dispatcher's workers times a stage's table threads).
POOL_CONNECTIONS = 64


def storage_session(environ: Mapping[str, str] | None = None) -> requests.Session:
    """A session with a pool for every storage thread and no redirects or retries of its own.

    The SDK's retry policy retries (and counts) failed requests; urllib3 must not retry
    underneath it.
    """
    session = environment_session(environ)
    adapter = HTTPAdapter(
        pool_connections=POOL_CONNECTIONS,
        pool_maxsize=POOL_CONNECTIONS,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class StorageOrigin:
    """Which setting names the storage account, and whether the account has answered yet.

    The table and the queue transport of one account share it: once either had an answer,
    neither translates a connection failure any more.

    Attributes:
        setting: The app setting to fix, e.g. `AzureWebJobsStorage`.
        label: What the setting holds, safe to print (never an account key).
        answered: Set at the first response; from then on the check costs one attribute read.
    """

    setting: str
    label: str
    answered: bool = False


@dataclass(frozen=True)
class ResendPolicy:
    """How often a storage request whose answer was lost is sent again, and how soon.

    Attributes:
        attempts: Sends in all, the first included.
        pause_s: Wait before the second send; doubled before each later one.
    """

    attempts: int = 3
    pause_s: float = 0.05

    def pauses(self) -> Iterator[float]:
        """The waits before each send after the first."""
        for attempt in range(self.attempts - 1):
            yield self.pause_s * (2**attempt)


class _UnreachableStorageError(StorageUnreachableError, ServiceRequestError):
    """A configuration error to the command line, a failed request to the SDK.

    The SDK's retry policy and every `except AzureError` still see a `ServiceRequestError`.
    """


class StorageTransport(RequestsTransport):  # type: ignore[misc]  # lazily exported: Any
    """`RequestsTransport` that names the settings when the account was never reachable."""

    def __init__(
        self,
        session: requests.Session,
        origin: StorageOrigin | None = None,
        resend: ResendPolicy | None = None,
        verify: bool | str = True,
    ) -> None:
        """Send over `session`.

        Args:
            session: The requests session (not closed by the transport).
            origin: The account's settings; None translates nothing.
            resend: How requests whose answer was lost are sent again.
            verify: What every request verifies TLS against: True (the default CA bundle),
                or a CA bundle's path.
        """
        super().__init__(session=session, session_owner=False, connection_verify=verify)
        self.origin = origin
        self.resend = resend or ResendPolicy()

    def send(self, request: Any, **kwargs: Any) -> Any:
        """Send one request; before the account's first answer, name the settings on failure."""
        origin = self.origin
        if origin is None or origin.answered:
            return self._send_resending(request, **kwargs)
        try:
            response = self._send_resending(request, **kwargs)
        except ServiceRequestError as error:
            raise unreachable_error(origin, str(request.url), error) from error
        origin.answered = True
        return response

    def _send_resending(self, request: Any, **kwargs: Any) -> Any:
        """Send, and send again while the connection breaks before the answer."""
        pauses = self.resend.pauses()
        while True:
            try:
                return super().send(request, **kwargs)
            except ServiceResponseError as error:
                # Only a broken connection; a read that timed out was answered too slowly.
                broken = isinstance(error.inner_exception, requests.exceptions.ConnectionError)
                pause = next(pauses, None) if broken else None
                if pause is None:
                    raise
                time.sleep(pause)


def unreachable_error(
    origin: StorageOrigin, url: str, error: BaseException
) -> StorageUnreachableError:
    """The one-line error for a request to `url` that could not connect."""
    endpoint = urlsplit(url).netloc
    host = urlsplit(url).hostname or ""
    if host in {"127.0.0.1", "localhost", "::1"}:
        fix = (
            "start Azurite (python -m devstack stack --env-file .env.local) "
            f"or fix {origin.setting}"
        )
    else:
        fix = f"check {origin.setting} and that this machine can reach the storage account"
    message = f"storage unreachable: {origin.setting} ({origin.label} -> {endpoint}) "
    return _UnreachableStorageError(message + _reason(error) + ".", fix=fix)


def _reason(error: BaseException) -> str:
    """What went wrong, in a few words, from the chain of exceptions under `error`."""
    causes = list(_causes(error))
    checks: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
        ((ConnectionRefusedError,), "refused the connection"),
        ((NameResolutionError, socket.gaierror), "has a host name that does not resolve"),
        (
            (ConnectTimeoutError, ServiceRequestTimeoutError, TimeoutError),
            "did not accept a connection in time",
        ),
        ((ssl.SSLError,), "failed the TLS handshake"),
    )
    for kinds, reason in checks:
        if any(isinstance(cause, kinds) for cause in causes):
            return reason
    return "could not be reached"


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception it wraps (SDK, requests and urllib3 each wrap the last)."""
    seen: set[int] = set()
    todo = [error]
    while todo and len(seen) < 32:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        linked = [getattr(item, name, None) for name in ("inner_exception", "reason")]
        linked += [item.__cause__, item.__context__, *item.args]
        todo.extend(link for link in linked if isinstance(link, BaseException))


def storage_transport(
    session: requests.Session | None = None,
    origin: StorageOrigin | None = None,
    resend: ResendPolicy | None = None,
    environ: Mapping[str, str] | None = None,
) -> RequestsTransport:
    """An SDK transport over `session` (by default a new `storage_session()`).

    Args:
        session: The requests session; by default one with a pool for every storage thread.
        origin: The account's settings, named in the error when it was never reachable.
        resend: How requests whose answer was lost are sent again (default `ResendPolicy()`).
        environ: The environment, read once here (default the process's).
    """
    environ = os.environ if environ is None else environ
    return StorageTransport(session or storage_session(environ), origin, resend, ca_bundle(environ))
