"""What every stage handler works with: options, stores, queues and the two API clients."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from credly_connector.credly.client import CredlyClient
from credly_connector.graph.client import GraphClient
from credly_connector.pipeline.queues import CrawlQueues
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.stores.badges import BadgeStore
from credly_connector.stores.crawls import CrawlStore
from credly_connector.stores.crawlsets import CrawlSetStore
from credly_connector.stores.directory import DirectoryStore
from credly_connector.stores.expiries import ExpiryStore
from credly_connector.stores.leases import LeaseStore
from credly_connector.stores.orgstate import OrganizationStateStore
from credly_connector.stores.overrides import OverrideStore
from credly_connector.stores.people import PersonStore
from credly_connector.stores.previews import PreviewStore
from credly_connector.stores.recipients import RecipientStore
from credly_connector.stores.seen import SeenStore
from credly_connector.stores.steps import StepStore
from credly_connector.stores.tables import Tables

DEFAULT_MAX_DEQUEUE_COUNT = 5


def utc_now() -> datetime:
    """The current UTC time (the production clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class PipelineOptions:
    """The settings the pipeline's rules depend on.

    Attributes:
        organizations: The Credly organisations read, merged into one item per person.
        web_url: Credly's web site, for badge links on profiles.
        lease: How long a crawl holds its organisation's lease without renewing it.
        batch_size: Users per profile message.
        write_concurrency: Item writes in flight per profile batch.
        tenant_id: AZURE_TENANT_ID; unset, the tenant comes from the Graph token's `tid`.
        slice_s: How long one invocation of a stage whose work grows with the organisation
            (the start's page messages, a full crawl's plan) runs before it hands the rest
            to a message of its own (far under the function timeout).
        batch_s: How long a profile batch starts people before it hands those it did not
            begin to a message of the same batch (a batch paced by a low write limit).
        pages_per_message: Listing pages one page message reads. Two pages of 50 badges
            share one transaction per table (at most 100 rows), one read of the crawl and
            one checkpoint write, and halve the page messages.
    """

    organizations: tuple[str, ...]
    connection_id: str
    web_url: str
    include_expired: bool = False
    index_skills: bool = False
    lease: timedelta = timedelta(minutes=60)
    batch_size: int = 100
    write_concurrency: int = 8
    tenant_id: str | None = None
    slice_s: float = 20.0
    batch_s: float = 40.0
    pages_per_message: int = 2


@dataclass(frozen=True)
class Delivery:
    """How often the queue has delivered this message (the host's `dequeue_count`).

    Attributes:
        enqueued_at: The message's insertion time, when known (for its age at pickup).
    """

    dequeue_count: int = 1
    max_dequeue_count: int = DEFAULT_MAX_DEQUEUE_COUNT
    enqueued_at: datetime | None = None

    @property
    def final(self) -> bool:
        """Whether a failure now sends the message to the poison queue."""
        return self.dequeue_count >= self.max_dequeue_count


GraphSession = Callable[[], AbstractAsyncContextManager[GraphClient]]


class CrawlContext:
    """Stores, queues and clients of the pipeline, built once per process."""

    def __init__(
        self,
        options: PipelineOptions,
        tables: Tables,
        queues: CrawlQueues,
        credly: Callable[[str], CredlyClient],
        graph: GraphSession,
        *,
        clock: Callable[[], datetime] = utc_now,
        overrides: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        """The stores on `tables`, the queues, and Credly (per organisation) and Graph clients.

        `clock` is injected for tests; `overrides` replaces the stored identity overrides.
        """
        self.options = options
        self.tables = tables
        self.queues = queues
        self.graph_session = graph
        self.clock = clock
        self.identity_overrides = OverrideStore(tables)
        # The stored overrides unless a caller injects its own mapping.
        self.overrides = overrides or self.identity_overrides.mapping
        self.crawls = CrawlStore(tables)
        self.steps = StepStore(tables)
        self.crawlsets = CrawlSetStore(tables)
        self.leases = LeaseStore(tables)
        self.orgstate = OrganizationStateStore(tables)
        self.badges = BadgeStore(tables, options.organizations)
        self.expiries = ExpiryStore(tables)
        self.people = PersonStore(tables)
        self.previews = PreviewStore(tables)
        self.recipients = RecipientStore(tables)
        self.directory = DirectoryStore(tables)
        self.seen = SeenStore(tables)
        self._credly_factory = credly
        self._credly: dict[str, CredlyClient] = {}
        self._lock = threading.Lock()
        self._index: tuple[tuple[str, tuple[tuple[str, str], ...]], DirectoryIndex] | None = None
        self._index_lock = threading.Lock()
        self._tenant_id = options.tenant_id

    def tenant_id(self) -> str:
        """The tenant id every item's `everyone` ACL names (the setting, else the token's).

        Call it outside an event loop (composing runs in threads); the first call without the
        setting opens a Graph session for a token, and the answer is kept for the process.

        Raises:
            ConfigurationError: Neither AZURE_TENANT_ID nor the Graph token names the tenant.
        """
        with self._lock:
            if self._tenant_id:
                return self._tenant_id

        async def from_graph() -> str:
            async with self.graph_session() as graph:
                return graph.tenant_id()

        tenant = asyncio.run(from_graph())
        with self._lock:
            self._tenant_id = tenant
        return tenant

    def credly_for(self, organization_id: str) -> CredlyClient:
        """The organisation's Credly client (created on first use, shared by the handlers)."""
        with self._lock:
            client = self._credly.get(organization_id)
            if client is None:
                client = self._credly[organization_id] = self._credly_factory(organization_id)
            return client

    def directory_index(self, version: str) -> DirectoryIndex:
        """The identity index of snapshot `version` and the current overrides (cached).

        One thread builds it while the others wait for it, and a stale index is let go first:
        an instance holds one directory index at a time, never one per concurrent batch.
        """
        overrides = dict(self.overrides())
        key = (version, tuple(sorted(overrides.items())))
        with self._index_lock:
            if self._index is not None and self._index[0] == key:
                return self._index[1]
            self._index = None
            index = DirectoryIndex(self.directory.users(), overrides=overrides)
            self._index = (key, index)
            return index
