"""Fault-test wiring: the production pipeline with clients that retry without waiting.

Every crawl here runs through the real handlers, Azurite and both stand-ins; only the retry
waits are recorded instead of slept, so a burst of 429s costs no wall-clock time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from credly_connector.errors import RetryableError
from credly_connector.graph.auth import graph_credential
from credly_connector.graph.client import GraphClient, open_graph_client
from credly_connector.graph.pacing import WritePacer
from credly_connector.local.dispatcher import LocalDispatcher
from credly_connector.pipeline.context import CrawlContext, GraphSession
from credly_connector.pipeline.launch import request_crawl
from credly_connector.pipeline.queues import CrawlQueues
from credly_connector.retry import RetryPolicy
from credly_connector.runtime import pipeline_options, storage_clients
from credly_connector.settings import Settings
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.tables import Tables
from devstack.standin import LoggedRequest, RequestLog
from tests.ops.setup_support import setup_stack  # noqa: F401
from tests.pipeline.conftest import CRAWL_TIMEOUT_S, make_pipeline  # noqa: F401
from tests.pipeline.dispatching import dispatch_to_end
from tests.pipeline.quick_clients import credly_clients

FAST_WRITES = {"GRAPH_WRITE_RATE": "1000"}
CREDLY_ATTEMPTS = 4
GRAPH_ATTEMPTS = 4
MAX_DELIVERIES = 3
CREDLY_TIMEOUT = (2.0, 0.5)
"""(connect, read) seconds: a hanging Credly request gives up after half a second."""


@dataclass
class Waits:
    """The retry waits the clients asked for (recorded, never slept)."""

    credly: list[float] = field(default_factory=list)
    graph: list[tuple[str, int | None, float]] = field(default_factory=list)
    """(kind such as `items.put`, the refused status, the wait) per Graph retry."""

    def graph_waits(self, status: int) -> list[float]:
        """The Graph retry waits after answers of `status`, in order."""
        return [wait for _, seen, wait in self.graph if seen == status]


class PacerTime:
    """A monotonic clock for the write pacer that moves only when the pacer sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    async def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)
        await asyncio.sleep(0)


async def _no_wait(_: float) -> None:
    await asyncio.sleep(0)


def _quick_graph(settings: Settings, waits: Waits, pacer_time: PacerTime) -> GraphSession:
    """Graph sessions as the runtime opens them, with recorded retry waits and pacer time."""
    credential = graph_credential(
        access_token=settings.graph.access_token,
        tenant_id=settings.graph.tenant_id,
        client_id=settings.graph.client_id,
        client_secret=settings.graph.client_secret,
        authority=urlsplit(settings.graph.api_url).netloc,
    )
    policy = RetryPolicy(attempts=GRAPH_ATTEMPTS, jitter=0.0, sleep=lambda _: None)
    pacer = WritePacer(
        concurrency=settings.crawl.graph_write_concurrency,
        rate=settings.crawl.graph_write_rate,
        clock=pacer_time.clock,
        sleep=pacer_time.sleep,
    )

    def on_retry(kind: str, error: RetryableError, wait: float) -> None:
        waits.graph.append((kind, error.status, wait))

    @asynccontextmanager
    async def session() -> AsyncIterator[GraphClient]:
        async with open_graph_client(
            credential,
            base_url=settings.graph.api_url,
            retry=policy,
            pacer=pacer,
            on_retry=on_retry,
            sleep=_no_wait,
        ) as client:
            yield client

    return session


def quick_context(
    settings: Settings,
    waits: Waits,
    *,
    storage: tuple[Tables, CrawlQueues] | None = None,
    overrides: Callable[[], Mapping[str, str]] | None = None,
) -> CrawlContext:
    """The production wiring, except that retries are recorded instead of waited.

    Args:
        settings: The stack's settings.
        waits: Collects the Credly and Graph retry waits.
        storage: Tables and queues to use instead of the settings' (e.g. through a gate).
        overrides: The identity overrides source (the stored ones when None).
    """
    tables, queues = storage or storage_clients(settings.storage)
    credly_policy = RetryPolicy(attempts=CREDLY_ATTEMPTS, jitter=0.0, sleep=waits.credly.append)
    credly = credly_clients(settings, credly_policy, timeout=CREDLY_TIMEOUT)
    tables.ensure()
    queues.ensure()
    graph = _quick_graph(settings, waits, PacerTime())
    return CrawlContext(
        pipeline_options(settings), tables, queues, credly, graph, overrides=overrides
    )


def start(ctx: CrawlContext, kind: str) -> str:
    """Request a crawl; its id."""
    outcome = request_crawl(ctx, kind, "test")
    assert outcome.crawl is not None, outcome
    return outcome.crawl.crawl_id


def dispatcher_for(
    ctx: CrawlContext, *, workers: int = 2, visibility_timeout_s: int = 120
) -> LocalDispatcher:
    """A dispatcher like the host: `MAX_DELIVERIES` deliveries, then the poison queue."""
    return LocalDispatcher(
        ctx,
        workers=workers,
        visibility_timeout_s=visibility_timeout_s,
        retry_delay_s=0,
        max_dequeue_count=MAX_DELIVERIES,
        poll_interval_s=0.01,
    )


def run_to_end(
    ctx: CrawlContext,
    crawl_id: str,
    dispatcher: LocalDispatcher | None = None,
    *,
    observer: CrawlContext | None = None,
    timeout_s: float = CRAWL_TIMEOUT_S,
) -> CrawlRecord:
    """Dispatch until the crawl ends; its final record.

    Args:
        observer: Reads the crawl record instead of `ctx` (e.g. past a storage outage that
            only the pipeline's own storage path suffers).
        timeout_s: Give up (failing with the crawl's record) after this long.
    """
    dispatcher = dispatcher or dispatcher_for(ctx)
    return dispatch_to_end(dispatcher, (observer or ctx).crawls, crawl_id, timeout_s)


def crawl(ctx: CrawlContext, kind: str, *, workers: int = 2) -> CrawlRecord:
    """Request a crawl and dispatch it to its end."""
    return run_to_end(ctx, start(ctx, kind), dispatcher_for(ctx, workers=workers))


def page_requests(log: RequestLog, page: int) -> list[LoggedRequest]:
    """The badge-list requests a Credly stand-in saw for one page number, in order."""
    return [
        entry for entry in log.entries("badges") if parse_qs(entry.query).get("page") == [str(page)]
    ]
