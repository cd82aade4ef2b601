"""Upsert transactions encoded by the connector, against Azurite: what the SDK reads back."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableClient, UpdateMode

from credly_connector.stores.tables import Tables
from credly_connector.stores.transactions import (
    PartStatus,
    TransactionFailedError,
    decode_statuses,
    encodable,
    entity_json,
    submit_upserts,
)

ROLE = "badges"


@pytest.fixture
def table(tables: Tables) -> TableClient:
    return tables.table(ROLE)


def _rows(table: TableClient, partition: str) -> dict[str, dict[str, object]]:
    escaped = partition.replace("'", "''")
    found = table.query_entities(f"PartitionKey eq '{escaped}'")
    return {str(row["RowKey"]): dict(row) for row in found}


def test_every_type_it_encodes_reads_back_as_the_sdk_would_write_it(table: TableClient) -> None:
    # given: keys with quotes, spaces and accents, and every value type the encoder takes
    partition, row = "org'1 é", "who@example.com|b'1 %"
    entity: dict[str, object] = {
        "PartitionKey": partition,
        "RowKey": row,
        "text": 'quote " and \\ and ünïcode',
        "count": 2**31 - 1,
        "ratio": 1.0,
        "flag": True,
    }
    sdk_twin = {**entity, "RowKey": "sdk"}

    # when: one row goes through our transaction, its twin through the SDK's
    submit_upserts(table, [entity])
    table.submit_transaction([("upsert", sdk_twin, {"mode": UpdateMode.REPLACE})])

    # then: both read back identically, types included
    rows = _rows(table, partition)
    ours, theirs = rows[row], rows["sdk"]
    assert ours == entity
    assert {k: (v, type(v)) for k, v in ours.items() if k != "RowKey"} == {
        k: (v, type(v)) for k, v in theirs.items() if k != "RowKey"
    }


def test_a_row_is_replaced_whole_not_merged(table: TableClient) -> None:
    submit_upserts(table, [{"PartitionKey": "p", "RowKey": "r", "old": "a", "kept": "b"}])

    submit_upserts(table, [{"PartitionKey": "p", "RowKey": "r", "kept": "c"}])

    assert _rows(table, "p")["r"] == {"PartitionKey": "p", "RowKey": "r", "kept": "c"}


def test_non_finite_doubles_survive_the_round_trip(table: TableClient) -> None:
    submit_upserts(
        table,
        [
            {"PartitionKey": "p", "RowKey": "nan", "v": math.nan},
            {"PartitionKey": "p", "RowKey": "inf", "v": math.inf},
            {"PartitionKey": "p", "RowKey": "-inf", "v": -math.inf},
        ],
    )

    rows = _rows(table, "p")
    assert math.isnan(float(rows["nan"]["v"]))  # type: ignore[arg-type]
    assert rows["inf"]["v"] == math.inf
    assert rows["-inf"]["v"] == -math.inf


def test_a_full_transaction_of_100_rows_is_written(table: TableClient) -> None:
    rows = [{"PartitionKey": "p", "RowKey": f"r{i:03}", "data": "x" * 900} for i in range(100)]

    submit_upserts(table, rows)

    assert sorted(_rows(table, "p")) == [f"r{i:03}" for i in range(100)]


def test_a_refused_operation_fails_the_whole_transaction_and_writes_nothing(
    table: TableClient,
) -> None:
    # given: a key with a character the service refuses, after a valid row
    rows = [{"PartitionKey": "p", "RowKey": "fine"}, {"PartitionKey": "p", "RowKey": "a/b"}]

    # when / then: the error names the refusal, and the valid row was not applied either
    with pytest.raises(TransactionFailedError) as raised:
        submit_upserts(table, rows)
    assert raised.value.status_code == 400
    assert "refused" in str(raised.value)
    assert _rows(table, "p") == {}


def test_a_missing_table_is_an_http_error(tables: Tables) -> None:
    missing = tables.service.get_table_client(tables.name("nosuchtable"))

    with pytest.raises(HttpResponseError):
        submit_upserts(missing, [{"PartitionKey": "p", "RowKey": "r"}])


def test_values_the_sdk_types_differently_go_through_the_sdk(tables: Tables) -> None:
    # given: a datetime, which the encoder does not type, and a plain row
    dated = {"PartitionKey": "p", "RowKey": "dated", "at": datetime(2026, 1, 2, tzinfo=UTC)}
    plain = {"PartitionKey": "p", "RowKey": "plain", "n": 5}

    # when: they are upserted with the stores' entry point
    written = tables.upsert_many(ROLE, [dated, plain])

    # then: both are written, the datetime with the SDK's type
    assert (encodable(dated), encodable(plain)) == (False, True)
    assert not encodable({"PartitionKey": "p", "RowKey": "wide", "n": 2**40})
    rows = _rows(tables.table(ROLE), "p")
    assert written == 2
    assert rows["dated"]["at"] == datetime(2026, 1, 2, tzinfo=UTC)
    assert rows["plain"]["n"] == 5


def test_doubles_are_annotated_and_other_values_left_to_inference() -> None:
    assert entity_json({"PartitionKey": "p", "v": 2.0, "n": 2, "s": "x"}) == (
        '{"PartitionKey":"p","v@odata.type":"Edm.Double","v":2.0,"n":2,"s":"x"}'
    )


def test_statuses_are_read_in_order_with_the_refusal_body() -> None:
    body = (
        "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
        "--changesetresponse_2\r\nContent-Type: application/http\r\n\r\n"
        "HTTP/1.1 204 No Content\r\nContent-ID: 0\r\n\r\n\r\n"
        "--changesetresponse_2\r\nContent-Type: application/http\r\n\r\n"
        'HTTP/1.1 400 Bad Request\r\nContent-ID: 1\r\n\r\n{"odata.error":{}}\r\n'
        "--changesetresponse_2--\r\n--batchresponse_1--\r\n"
    )

    assert decode_statuses(body) == [
        PartStatus(204, "No Content", ""),
        PartStatus(400, "Bad Request", '{"odata.error":{}}'),
    ]
