"""Credly credentials: an organisation authorization token, or an OAuth client-credentials app."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import requests

from credly_connector.credly.errors import (
    OAUTH_SETTINGS,
    TOKEN_SETTING,
    error_for_exception,
    error_for_token_response,
)
from credly_connector.errors import RetryableError

DEFAULT_SCOPE = "issued_badges events"
DEFAULT_TOKEN_LIFETIME_S = 7200.0
"""Assumed lifetime when the token endpoint leaves out `expires_in` (Credly's is 2 h)."""
REFRESH_MARGIN_S = 60.0
"""A cached access token is replaced this long before it expires."""


class CredlyAuth(Protocol):
    """How the client authenticates: one `Authorization` header value per request."""

    @property
    def settings(self) -> str:
        """The settings holding these credentials, named in error fixes."""
        ...

    def authorization(self) -> str:
        """The `Authorization` header value to send now."""
        ...

    def refresh(self, rejected: str) -> bool:
        """Forget a credential the API answered 401 to.

        Args:
            rejected: The `Authorization` value that was refused.

        Returns:
            True when a new credential may succeed, so the request is worth one more try.
        """
        ...


@dataclass(frozen=True)
class TokenAuth:
    """An organisation authorization token, sent as HTTP Basic user name with no password.

    Attributes:
        token: The authorization token.
    """

    token: str = field(repr=False)

    @property
    def settings(self) -> str:
        """The setting holding the token."""
        return TOKEN_SETTING

    def authorization(self) -> str:
        """`Basic base64("<token>:")`, the form Credly's own integrations send."""
        encoded = base64.b64encode(f"{self.token}:".encode()).decode("ascii")
        return f"Basic {encoded}"

    def refresh(self, rejected: str) -> bool:
        """A refused token stays refused: no second try."""
        return False


class OAuthAuth:
    """OAuth 2.0 client credentials: a cached bearer token, renewed before it expires.

    Thread-safe: parallel page requests share one token, and a 401 seen by several threads
    at once renews it only once.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        token_url: str,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        scope: str = DEFAULT_SCOPE,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        """Get tokens for this client from `token_url` when first needed.

        Args:
            client_id: The OAuth application's client id.
            client_secret: Its secret.
            token_url: The token endpoint, on Credly's web host (not the API host).
            session: The HTTP session for token requests (a new one when None).
            clock: Monotonic seconds, for expiry.
            scope: The space-separated scopes to ask for.
            timeout: (connect, read) seconds for token requests.
        """
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_url = token_url
        self.session = session or requests.Session()
        self.clock = clock
        self.scope = scope
        self.timeout = timeout
        self._lock = threading.Lock()
        self._header: str | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:
        """The client id and token URL, never the secret."""
        return f"OAuthAuth(client_id={self.client_id!r}, token_url={self.token_url!r})"

    @property
    def settings(self) -> str:
        """The settings holding the client credentials."""
        return OAUTH_SETTINGS

    def authorization(self) -> str:
        """`Bearer <access token>`, fetched when none is cached or it is about to expire.

        Raises:
            AuthenticationError: The token endpoint refused the client or scope.
            RetryableError: The token endpoint failed, throttled or answered garbage.
        """
        with self._lock:
            if self._header is None or self.clock() >= self._renew_at:
                self._header = None
                started = self.clock()
                token, lifetime = self._fetch()
                self._header = f"Bearer {token}"
                self._renew_at = started + lifetime - REFRESH_MARGIN_S
            return self._header

    def refresh(self, rejected: str) -> bool:
        """Drop the cached token if it is the one refused (another thread may have renewed)."""
        with self._lock:
            if self._header == rejected:
                self._header = None
        return True

    def _fetch(self) -> tuple[str, float]:
        form = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
            "scope": self.scope,
        }
        try:
            response = self.session.post(
                self.token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise error_for_exception(error) from error
        if response.status_code != 200:
            raise error_for_token_response(response, token_url=self.token_url, scope=self.scope)
        return _read_token(response, self.token_url)


def _read_token(response: requests.Response, token_url: str) -> tuple[str, float]:
    """The access token and its lifetime in seconds from a 200 token answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise RetryableError(f"malformed token response from {token_url}: no access_token")
    expires_in = body.get("expires_in") if isinstance(body, dict) else None
    try:
        lifetime = float(expires_in) if expires_in is not None else DEFAULT_TOKEN_LIFETIME_S
    except (TypeError, ValueError):
        lifetime = DEFAULT_TOKEN_LIFETIME_S
    return token, lifetime
