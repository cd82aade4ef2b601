"""The Azurite fixture gives real table and queue storage with the semantics the pipeline needs."""

from __future__ import annotations

import base64
import json
import os

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.queue import (
    QueueClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from devstack.azurite import Azurite, AzuriteError

pytestmark = pytest.mark.azurite


def test_listens_on_loopback_only(azurite: Azurite) -> None:
    endpoints = azurite.endpoints
    assert endpoints.host == "127.0.0.1"
    assert set(endpoints.ports) == {"blob", "queue", "table"}
    assert len(set(endpoints.ports.values())) == 3
    assert "127.0.0.1" in azurite.connection_string


def test_table_update_is_etag_conditional(azurite: Azurite, storage_name: str) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    table = service.create_table(storage_name)
    table.create_entity({"PartitionKey": "org", "RowKey": "lease", "holder": "a"})
    first = table.get_entity("org", "lease")

    first["holder"] = "b"
    table.update_entity(
        first,
        mode=UpdateMode.REPLACE,
        etag=first.metadata["etag"],
        match_condition=MatchConditions.IfNotModified,
    )

    stale = dict(first)
    stale["holder"] = "c"
    with pytest.raises(ResourceModifiedError):
        table.update_entity(
            stale,
            mode=UpdateMode.REPLACE,
            etag=first.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    with pytest.raises(ResourceExistsError):
        table.create_entity({"PartitionKey": "org", "RowKey": "lease", "holder": "d"})
    assert table.get_entity("org", "lease")["holder"] == "b"


def test_queue_round_trip_is_base64_on_the_wire(azurite: Azurite, storage_name: str) -> None:
    producer = QueueClient.from_connection_string(
        azurite.connection_string, storage_name, message_encode_policy=TextBase64EncodePolicy()
    )
    producer.create_queue()
    payload = {"crawl_id": "c1", "page": 7}
    producer.send_message(json.dumps(payload))

    raw = QueueClient.from_connection_string(azurite.connection_string, storage_name)
    peeked = raw.peek_messages()[0].content
    assert json.loads(base64.b64decode(peeked)) == payload

    consumer = QueueClient.from_connection_string(
        azurite.connection_string, storage_name, message_decode_policy=TextBase64DecodePolicy()
    )
    message = consumer.receive_message()
    assert message is not None
    assert json.loads(message.content) == payload
    assert message.dequeue_count == 1
    consumer.delete_message(message)
    assert consumer.get_queue_properties().approximate_message_count == 0


def test_stop_ends_the_process_it_started() -> None:
    instance = Azurite().start()
    pid = instance.pid
    assert pid is not None
    instance.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(AzuriteError):
        _ = instance.connection_string
