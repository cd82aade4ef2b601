"""The table and queue clients of the configured storage account (key or identity based)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core.credentials import TokenCredential
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from credly_connector.pipeline.queues import CrawlQueues
from credly_connector.runtime.options import Hooks
from credly_connector.settings import StorageSettings
from credly_connector.stores.tables import Tables
from credly_connector.stores.transport import StorageOrigin, storage_transport


def storage_clients(
    storage: StorageSettings, hooks: Hooks | None = None
) -> tuple[Tables, CrawlQueues]:
    """Table and queue clients for the configured account (key or identity based)."""
    hooks = hooks or Hooks()
    table_options = _response_hook(hooks.table_response)
    queue_options = _response_hook(hooks.queue_response)
    origin = storage_origin(storage)
    if storage.connection_string:
        cs = storage.connection_string
        return (
            Tables(
                TableServiceClient.from_connection_string(
                    cs, transport=storage_transport(origin=origin), **table_options
                ),
                storage.prefix,
            ),
            CrawlQueues(
                QueueServiceClient.from_connection_string(
                    cs, transport=storage_transport(origin=origin), **queue_options
                ),
                storage.prefix,
            ),
        )
    from azure.identity import (  # noqa: PLC0415 - deployed form only
        DefaultAzureCredential,
        ManagedIdentityCredential,
    )

    # Never the environment credential: AZURE_CLIENT_ID/SECRET may be the Graph app's, which
    # has no storage roles.
    credential: TokenCredential = (
        ManagedIdentityCredential(client_id=storage.credential_client_id)
        if storage.credential_client_id
        else DefaultAzureCredential(exclude_environment_credential=True)
    )
    if not storage.table_url or not storage.queue_url:
        msg = "identity-based storage needs the table and queue service URLs"
        raise ValueError(msg)
    return (
        Tables(
            TableServiceClient(
                storage.table_url,
                credential=credential,
                transport=storage_transport(origin=origin),
                **table_options,
            ),
            storage.prefix,
        ),
        CrawlQueues(
            QueueServiceClient(
                storage.queue_url,
                credential=credential,
                transport=storage_transport(origin=origin),
                **queue_options,
            ),
            storage.prefix,
        ),
    )


def storage_origin(storage: StorageSettings) -> StorageOrigin:
    """The setting that names the account, and a printable summary of its value (no key)."""
    if storage.connection_string:
        compact = storage.connection_string.replace(" ", "").lower()
        if "usedevelopmentstorage=true" in compact:
            return StorageOrigin("AzureWebJobsStorage", "UseDevelopmentStorage=true")
        return StorageOrigin("AzureWebJobsStorage", f"account {storage.account_name}")
    if storage.account_name:
        return StorageOrigin("AzureWebJobsStorage__accountName", storage.account_name)
    return StorageOrigin(
        "AzureWebJobsStorage__tableServiceUri/__queueServiceUri", "identity-based service URIs"
    )


def _response_hook(hook: Callable[[Any], None] | None) -> dict[str, Any]:
    return {} if hook is None else {"raw_response_hook": hook}
