"""The `scaleout` figures: windows, requests in flight, table requests counted by table."""

from __future__ import annotations

from bench.scaleout_figures import busiest_window, coordination_ops, most_in_flight, per_second
from bench.table_meter import _classify, _frame


def test_the_busiest_window_counts_the_most_writes_in_any_five_seconds():
    times = [0.0, 1.0, 4.9, 5.0, 5.1, 9.95, 30.0]
    assert busiest_window(times) == 4  # 1.0, 4.9, 5.0, 5.1
    assert busiest_window([]) == 0


def test_requests_in_flight_do_not_overlap_when_one_ends_as_the_next_starts():
    assert most_in_flight([(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)]) == 1
    assert most_in_flight([(0.0, 2.0), (0.5, 2.0), (1.0, 0.1), (3.0, 1.0)]) == 3


def test_writes_per_second_fall_in_whole_seconds_after_the_start():
    assert per_second([10.2, 10.9, 11.0, 13.5], started=10.0, wall_s=3.2) == [2, 1, 0, 1]


def test_coordination_is_the_budgets_and_slots_tables():
    ops = {"budgets.write": 3, "slots.insert": 2, "slots.delete": 2, "badges.batch": 9}
    assert coordination_ops(ops) == 7


def test_a_request_head_is_framed_and_counted_by_its_table():
    head = b"PUT /devstoreaccount1/budgets(PartitionKey='g',RowKey='c') HTTP/1.1\r\n"
    head += b"Host: x\r\nContent-Length: 12"
    length, chunked, request = _frame(head)
    assert (length, chunked) == (12, False)
    assert _classify(request, b"") == "budgets.write"


def test_a_transaction_is_counted_under_the_table_its_operations_change():
    body = (
        b"--changeset\r\nContent-Type: application/http\r\n\r\n"
        b"DELETE http://127.0.0.1:1/devstoreaccount1/slots(PartitionKey='o',RowKey='1') "
        b"HTTP/1.1\r\n"
    )
    assert _classify(("POST", "/devstoreaccount1/$batch"), body) == "slots.batch"
