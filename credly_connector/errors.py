"""The connector's error families, grouped by what the caller should do about them.

Each external system's module translates its library's exceptions into these at exactly one
boundary (`credly.errors`, `graph.errors`); pipeline code catches families, never HTTP codes.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""


class ConfigurationError(ConnectorError):
    """A setting or credential is wrong: stop and tell the admin what to fix."""

    def __init__(self, message: str, *, fix: str = "") -> None:
        """The problem, and what the admin should do (appended as `Fix: ...`)."""
        super().__init__(message if not fix else f"{message} Fix: {fix}")
        self.fix = fix


class AuthenticationError(ConfigurationError):
    """The credentials were refused (401/403): retrying will not help."""


class StorageUnreachableError(ConfigurationError):
    """The storage account in the settings could not be reached at all (refused, unknown host).

    Raised only before the account has ever answered in this process: then it is the settings
    or a missing emulator, not a passing outage (which stays a retryable storage error).
    """


class StorageMissingError(ConfigurationError):
    """The connector's tables or queues do not exist yet: setup has not run on this account."""

    MESSAGE = "The connector's storage tables and queues do not exist yet."
    FIX = "run POST /api/ops/setup (or python -m credly_connector setup)"

    def __init__(self) -> None:
        """The one message and fix of a missing table or queue."""
        super().__init__(self.MESSAGE, fix=self.FIX)


class RetryableError(ConnectorError):
    """Throttled, a 5xx, a timeout or a dropped connection: try again later.

    Attributes:
        retry_after: Seconds the server asked us to wait, when it said so.
        status: The HTTP status, when there was a response.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        """The failure, with the wait the server asked for and its status when known."""
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class ThrottledError(RetryableError):
    """429: the service asked us to slow down."""


class NotFoundError(ConnectorError):
    """The addressed resource does not exist (handled by the domain, e.g. delete of a gone item)."""


class ConflictError(ConnectorError):
    """The resource exists already or was changed by someone else (409/412)."""


class BadDataError(ConnectorError):
    """A record cannot be used: skip it with a reason, never stop the crawl for it."""

    def __init__(self, reason: str, message: str) -> None:
        """A skip `reason` (`rules.reasons`) and the message saying what was wrong."""
        super().__init__(message)
        self.reason = reason


class RequestError(ConnectorError):
    """The service refused the request as malformed (400/422): a bug or an unsupported query."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        """The refusal, with the HTTP status and the service's error code when known."""
        super().__init__(message)
        self.status = status
        self.code = code
