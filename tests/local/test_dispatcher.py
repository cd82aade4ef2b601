"""The local dispatcher against real Azurite queues."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from azure.storage.queue import QueueServiceClient

from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.pipeline.context import Delivery
from credly_connector.pipeline.dispatch import handle_message
from credly_connector.pipeline.launch import request_crawl
from credly_connector.pipeline.messages import PAGES, START, PageMessage
from credly_connector.pipeline.queues import CrawlQueues
from credly_connector.stores.crawls import CrawlStatus
from tests.pipeline.conftest import Pipeline, make_pipeline  # noqa: F401
from tests.pipeline.dispatching import dispatch_to_end

# Each Credly badge page takes this long: twice the lease under test.
LONG_S = 4.0


def test_a_receive_is_one_request_so_no_message_is_taken_and_left_unhandled(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
) -> None:
    # Given two messages waiting, fewer than a receive's room, and queues that count requests.
    pipeline = make_pipeline(badges=10, seed=3)
    gets: list[str] = []

    def count(response: Any) -> None:
        if response.http_request.method == "GET":
            gets.append(response.http_request.url)

    service = QueueServiceClient.from_connection_string(
        pipeline.stack.env["AzureWebJobsStorage"], raw_response_hook=count
    )
    queues = CrawlQueues(service, pipeline.ctx.queues.prefix)
    queues.ensure()
    queues.send_all(PageMessage("c-none", page) for page in (1, 2))
    pipeline.ctx.queues = queues
    dispatcher = LocalDispatcher(pipeline.ctx, workers=1, visibility_timeout_s=120)

    # When the dispatcher receives with room for five,
    taken = dispatcher.messages.receive(PAGES, 5)

    # then it asked once: asking again for the rest of its room could take messages that
    # arrived meanwhile beyond that room, which would wait unhandled until they reappear.
    assert len(taken) == 2
    assert len(gets) == 1


def test_a_handler_outliving_its_lease_is_renewed_not_delivered_again(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
) -> None:
    # Given a one-page crawl whose Credly answers take longer than the dispatcher's lease,
    pipeline = make_pipeline(badges=40, seed=5, env={"GRAPH_WRITE_RATE": "1000"})
    pipeline.ctx.tables.ensure()
    pipeline.ctx.queues.ensure()
    credly = pipeline.stack.credly.api
    credly.knobs.set_latency(LONG_S, "badges")
    crawl = request_crawl(pipeline.ctx, "full", "test").crawl
    assert crawl is not None
    dispatcher = LocalDispatcher(pipeline.ctx, workers=2, visibility_timeout_s=2, renew_every_s=0.5)

    # when it runs to its end,
    ended = dispatch_to_end(dispatcher, pipeline.ctx.crawls, crawl.crawl_id)

    # then the start and the page each fetched page 1 once: neither message reappeared
    # while its handler ran, since their leases were renewed meanwhile.
    assert ended.status == CrawlStatus.SUCCEEDED, ended
    assert credly.requests.count("badges") == 2
    assert dispatcher.stats.renewed >= 2
    assert (dispatcher.stats.handled[START], dispatcher.stats.handled[PAGES]) == (1, 1)
    assert sum(dispatcher.stats.failed.values()) == 0
    assert pipeline.stored() == pipeline.expected()


def test_ctrl_c_gives_back_the_messages_not_started_and_lets_running_handlers_finish(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
) -> None:
    # Given a crawl with five page messages queued (ten pages, two to a message) and a
    # one-worker dispatcher holding two of them (one running, slowly, and one waiting for the
    # worker),
    pipeline = make_pipeline(badges=480, seed=6, env={"GRAPH_WRITE_RATE": "1000"})
    ctx = pipeline.ctx
    ctx.tables.ensure()
    ctx.queues.ensure()
    crawl = request_crawl(ctx, "full", "test").crawl
    assert crawl is not None
    start = ctx.queues.client(START)
    for message in start.receive_messages(messages_per_page=1):
        handle_message(ctx, START, message.content, Delivery())
        start.delete_message(message)
    credly = pipeline.stack.credly.api
    credly.knobs.set_latency(LONG_S, "badges")
    fetched = credly.requests.count("badges")
    dispatcher = LocalDispatcher(ctx, workers=1, grace_s=60)

    def interrupt_once_a_page_is_running() -> None:
        deadline = time.monotonic() + 60
        while credly.requests.count("badges") == fetched and time.monotonic() < deadline:
            time.sleep(0.05)
        # A real SIGINT, as Ctrl-C sends: it also wakes the main thread from a blocking wait
        # (`_thread.interrupt_main` only sets a flag checked between bytecodes).
        os.kill(os.getpid(), signal.SIGINT)

    # when Ctrl-C comes while the first page runs (Python's own handler, as in a terminal:
    # a test run started in the background inherits SIGINT ignored),
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_once_a_page_is_running, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            dispatcher.run_until(lambda: False, timeout_s=120)
    finally:
        signal.signal(signal.SIGINT, previous)

    # then the running page finished and was settled, and the waiting one is visible again
    # at once (with the three never taken), not after its lease.
    assert dispatcher.stats.handled[PAGES] == 1
    assert dispatcher.stats.abandoned == 0
    assert len(ctx.queues.client(PAGES).peek_messages(max_messages=32)) == 4
