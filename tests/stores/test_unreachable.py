"""Storage that was never reachable is one clear configuration error; a later outage is not."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from azure.core.exceptions import AzureError, ServiceRequestError
from azure.data.tables import TableServiceClient

from credly_connector.errors import ConfigurationError, StorageUnreachableError
from credly_connector.runtime import storage_origin
from credly_connector.settings import load_settings
from credly_connector.stores.transport import StorageOrigin, storage_transport
from devstack.azurite import DEV_ACCOUNT, DEV_ACCOUNT_KEY, Azurite

REPO = Path(__file__).resolve().parents[2]
ORG_ID = "3f2c1b7e-8a4d-4c1e-9b2a-5d6e7f8a9b0c"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_ACCOUNT_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT};"
        f"QueueEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT};"
    )


def settings_env(storage: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "AzureWebJobsStorage": storage,
        "CREDLY_ORGANIZATION_ID": ORG_ID,
        "CREDLY_AUTH_TOKEN": "token",
        "CREDLY_API_URL": "http://127.0.0.1:9/v1",
        "CREDLY_WEB_URL": "http://127.0.0.1:9",
        "GRAPH_API_URL": "http://127.0.0.1:9/v1.0",
        "GRAPH_ACCESS_TOKEN": "token",
    }


@pytest.mark.parametrize("command", [["crawl", "--kind", "full"], ["override", "list"]])
def test_an_unreachable_account_is_one_line_naming_the_setting_and_the_fix(
    command: list[str],
) -> None:
    # given: a connection string whose endpoints are a closed loopback port
    port = closed_port()

    # when: a command that starts with storage runs
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "credly_connector", *command],
        env=settings_env(connection_string(port)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # then: exit 2 and one line: the setting, the endpoint, the cause and the fix; no key
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith(
        f"storage unreachable: AzureWebJobsStorage (account {DEV_ACCOUNT} -> 127.0.0.1:{port})"
        " refused the connection."
    )
    assert "Fix: start Azurite (python -m devstack stack --env-file .env.local)" in line
    assert "Traceback" not in done.stderr
    assert DEV_ACCOUNT_KEY not in done.stderr + done.stdout


def test_the_development_storage_shorthand_is_named_as_written() -> None:
    settings = load_settings(settings_env("UseDevelopmentStorage=true"))
    assert storage_origin(settings.storage) == StorageOrigin(
        "AzureWebJobsStorage", "UseDevelopmentStorage=true"
    )


def test_before_any_answer_a_refusal_is_a_configuration_error_and_still_a_request_error() -> None:
    origin = StorageOrigin("AzureWebJobsStorage", "account x")
    service = TableServiceClient.from_connection_string(
        connection_string(closed_port()),
        transport=storage_transport(origin=origin),
        retry_total=0,
    )
    with pytest.raises(StorageUnreachableError) as raised:
        service.create_table("tunreachable")
    # The SDK's retries and every `except AzureError` keep treating it as a failed request.
    assert isinstance(raised.value, ServiceRequestError)
    assert isinstance(raised.value, ConfigurationError)
    assert origin.answered is False


def test_after_the_first_answer_a_refusal_is_an_outage_not_a_configuration_error(
    azurite: Azurite, storage_name: str
) -> None:
    # given: the account answered once through a transport of this origin
    origin = StorageOrigin("AzureWebJobsStorage", "account x")
    reachable = TableServiceClient.from_connection_string(
        azurite.connection_string, transport=storage_transport(origin=origin)
    )
    reachable.create_table(storage_name)
    assert origin.answered is True

    # when: a transport sharing that origin (as tables and queues do) meets a closed port
    service = TableServiceClient.from_connection_string(
        connection_string(closed_port()),
        transport=storage_transport(origin=origin),
        retry_total=0,
    )
    with pytest.raises(AzureError) as raised:
        service.create_table(storage_name)

    # then: a plain request error, which the pipeline retries, not a configuration error
    assert isinstance(raised.value, ServiceRequestError)
    assert not isinstance(raised.value, ConfigurationError)
    reachable.delete_table(storage_name)
