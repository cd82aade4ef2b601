"""The one runner of every operation route: telemetry scope, settings and storage problems.

Each route of `function_app.py` hands its operation here, so every route answers a bad
setting with a 500 naming the setting and its fix, and an account where setup has not run
with a 503 saying to run it, the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from credly_connector import telemetry
from credly_connector.errors import StorageMissingError
from credly_connector.ops.answers import Answer, problem
from credly_connector.settings import SettingsError
from credly_connector.stores.tables import storage_required

log = logging.getLogger("credly_connector")
T = TypeVar("T")
CRAWLS_ROUTE = "/ops/crawls"


def run_operation(operation: Callable[[], T], *, stage: str = "ops") -> T | Answer:
    """Run one operation in a telemetry scope of `stage`.

    Args:
        operation: Builds the context it needs (raising `SettingsError` for bad settings)
            and answers; its result is returned as it is.
        stage: The scope's stage: `ops`, or `webhook` for Credly's notifications.

    Returns:
        The operation's result, or the 500 answer for invalid settings, or the 503 answer
        when the connector's tables or queues do not exist yet.
    """
    with telemetry.scope(stage=stage):
        try:
            with storage_required():
                return operation()
        except SettingsError as error:
            log.error("%s", error)
            return problem(500, str(error))
        except StorageMissingError as error:
            return problem(503, error.MESSAGE, fix=error.FIX)


def crawl_status_url(request_url: str) -> str:
    """The status URL of a crawl, `{id}` standing for its id, from any crawls route's URL.

    `https://host/api/ops/crawls?code=K` and `https://host/api/ops/crawls/ID/retry` both
    give `https://host/api/ops/crawls/{id}` (the query, with its function key, left out).
    """
    parts = urlsplit(request_url)
    prefix, found, _ = parts.path.partition(CRAWLS_ROUTE)
    path = prefix + CRAWLS_ROUTE if found else parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path + "/{id}", "", ""))
