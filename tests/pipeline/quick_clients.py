"""Credly clients wired as the runtime wires them, except for the test's retry policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from credly_connector.credly.client import CredlyClient
from credly_connector.retry import RetryPolicy
from credly_connector.runtime import credly_auth
from credly_connector.settings import Settings


def credly_clients(
    settings: Settings, retry: RetryPolicy, **options: Any
) -> Callable[[str], CredlyClient]:
    """A Credly client factory for `CrawlContext` whose clients retry by `retry`.

    Args:
        settings: The stack's settings (API URL and credentials).
        retry: The retry policy, typically one whose sleep records instead of waiting.
        **options: Further `CredlyClient` keywords (e.g. `timeout`).

    Returns:
        Builds an organisation's client, with a session of its own.
    """

    def credly(organization_id: str) -> CredlyClient:
        session = requests.Session()
        return CredlyClient(
            settings.credly.api_url,
            organization_id,
            credly_auth(settings, session, organization_id),
            session=session,
            retry=retry,
            **options,
        )

    return credly
