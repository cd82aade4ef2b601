"""Checks before the host starts: storage set, valid and reachable; app settings valid."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from azure.core.exceptions import AzureError
from azure.storage.queue import QueueServiceClient

STORAGE = "AzureWebJobsStorage"
START_STORAGE = (
    "start Azurite (python -m devstack azurite), or run python -m devstack stack "
    "--env-file .env.local and load it (set -a; . .env.local; set +a)"
)


class HostStartError(RuntimeError):
    """The host cannot start; the message is one line naming the setting and the fix."""


def check_storage(env: Mapping[str, str], timeout_s: float = 5.0) -> None:
    """Fail unless `AzureWebJobsStorage` is a connection string of a reachable account.

    Raises:
        HostStartError: Naming the setting and the fix.
    """
    connection = env.get(STORAGE, "").strip()
    if not connection:
        raise HostStartError(
            f"{STORAGE} is not set: the host keeps its queues and timers there; {START_STORAGE}"
        )
    try:
        # No retries: an unreachable account should be reported now, not after a minute.
        service = QueueServiceClient.from_connection_string(
            connection, retry_total=0, connection_timeout=timeout_s, read_timeout=timeout_s
        )
    except ValueError as error:
        raise HostStartError(
            f"{STORAGE} is not a storage connection string ({error}); {START_STORAGE}"
        ) from None
    try:
        service.get_service_properties()
    except AzureError as error:
        reason = str(error).splitlines()[0][:160]
        raise HostStartError(
            f"the storage in {STORAGE} ({service.url}) is not reachable ({reason}); {START_STORAGE}"
        ) from None


def check_port(port: int) -> None:
    """Fail when the HTTP port is taken (0, any free port, always works).

    Raises:
        HostStartError: Naming the port and the option.
    """
    if port == 0:
        return
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise HostStartError(
                f"port {port} cannot be used ({error.strerror}): choose another with --port "
                "(0: any free port)"
            ) from None


def check_app_settings(env: Mapping[str, str]) -> None:
    """Fail on settings the app would refuse at its first invocation; create its storage.

    The app builds its context lazily, so without this a bad setting would show only as
    failed invocations. The app's tables and queues are created here, as the connector's
    setup would, so a first crawl requested over HTTP finds them.

    Raises:
        HostStartError: Listing each problem and its fix.
    """
    from credly_connector.runtime import storage_clients  # noqa: PLC0415 - heavy imports
    from credly_connector.settings import SettingsError, load_settings  # noqa: PLC0415

    if env.get("STORAGE_PREFIX"):
        raise HostStartError(
            "STORAGE_PREFIX is set: it is for local runs and tests, and the app's queue "
            "triggers use fixed queue names; remove it from the environment"
        )
    try:
        settings = load_settings(env)
    except SettingsError as error:
        raise HostStartError(str(error)) from None
    tables, queues = storage_clients(settings.storage)
    try:
        tables.ensure()
        queues.ensure()
    except AzureError as error:
        raise HostStartError(f"creating the app's tables and queues failed: {error}") from None
