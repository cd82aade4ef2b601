"""The local dispatcher against real Azurite queues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.storage.queue import QueueServiceClient

from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.pipeline.messages import PAGES, PageMessage
from credly_connector.pipeline.queues import CrawlQueues
from tests.pipeline.conftest import Pipeline, make_pipeline  # noqa: F401


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
    taken = dispatcher._receive(PAGES, 5)

    # then it asked once: asking again for the rest of its room could take messages that
    # arrived meanwhile beyond that room, which would wait unhandled until they reappear.
    assert len(taken) == 2
    assert len(gets) == 1
