"""Request classification and the per-second write series."""

from __future__ import annotations

import logging

import pytest

from bench.counters import (
    DiscardedConnections,
    RequestCounters,
    classify_queue_request,
    classify_table_request,
)
from bench.runner import per_second

ACCOUNT = "http://127.0.0.1:10002/devstoreaccount1"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/benchbadges(PartitionKey='a%40b',RowKey='1')", ("badges", "read")),
        ("GET", "/benchbadges()?$filter=PartitionKey%20eq%20'x'", ("badges", "query")),
        ("PUT", "/benchpeople(PartitionKey='p',RowKey='u')", ("people", "write")),
        ("PATCH", "/benchpeople(PartitionKey='p',RowKey='u')", ("people", "write")),
        ("POST", "/benchcrawls", ("crawls", "insert")),
        ("DELETE", "/benchleases(PartitionKey='l',RowKey='o')", ("leases", "delete")),
        ("POST", "/$batch", ("any", "batch")),
        ("POST", "/Tables", ("tables", "admin")),
    ],
)
def test_table_requests_are_named_by_table_and_operation(method, path, expected):
    assert classify_table_request(method, ACCOUNT + path, "bench") == expected


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/q-crawl-pages/messages", "send"),
        ("GET", "/q-crawl-pages/messages?numofmessages=8", "receive"),
        ("DELETE", "/q-crawl-pages/messages/abc?popreceipt=x", "delete"),
        ("PUT", "/q-crawl-pages/messages/abc?popreceipt=x", "update"),
        ("PUT", "/q-crawl-pages", "admin"),
    ],
)
def test_queue_requests_are_named_by_operation(method, path, expected):
    assert classify_queue_request(method, ACCOUNT + path) == expected


def test_graph_attempts_are_split_into_writes_throttles_and_reads():
    ticks = iter([1.0, 2.0, 3.0, 4.0, 5.0])
    counters = RequestCounters(clock=lambda: next(ticks))
    counters.graph_request("PUT", "items.put", 200)
    counters.graph_request("PUT", "items.put", 429)
    counters.graph_request("DELETE", "items.delete", 204)
    counters.graph_request("GET", "users.delta", 200)
    counters.credly_request("GET /v1/organizations/o/badges", 200)
    tally = counters.reset()
    assert (tally.graph_writes, tally.graph_429, tally.graph_reads, tally.credly) == (2, 1, 1, 1)
    assert tally.write_times == [1.0, 3.0]
    assert tally.throttle_times == [2.0]
    assert counters.tally.graph_writes == 0


def test_writes_are_binned_by_whole_second_since_the_start():
    assert per_second([10.2, 10.9, 11.0, 13.5, 99.0], started=10.0, wall_s=3.2) == [2, 1, 0, 2]


def test_pool_full_warnings_are_counted_and_silenced(caplog):
    logger = logging.getLogger(DiscardedConnections.LOGGER)
    with DiscardedConnections() as discarded, caplog.at_level(logging.WARNING):
        logger.warning("Connection pool is full, discarding connection: %s", "127.0.0.1")
        logger.warning("something else")
    assert discarded.count == 1
    assert [r.getMessage() for r in caplog.records] == ["something else"]
