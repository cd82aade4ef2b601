"""Crash tests: worker processes killed at chosen requests, on the stack of tests/pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from credly_connector.pipeline.messages import STAGES
from credly_connector.stores.tables import TABLE_NAMES
from devstack.azurite import Azurite, AzuriteEndpoints
from devstack.connected import CONNECTION_ID
from devstack.crashworker import CrashWorker
from devstack.tripwire import SeenRequest, Tripwire
from tests.pipeline.conftest import Pipeline, make_pipeline  # noqa: F401

# Item writes are paced in production; the pacing is not what these tests are about. Small
# profile batches keep every handler short next to the short visibility of a doomed worker.
FAST = {"GRAPH_WRITE_RATE": "1000", "PROFILE_BATCH_SIZE": "20"}
WRITES = frozenset({"POST", "PUT", "MERGE", "PATCH", "DELETE"})
# Tripwires stop by themselves after this, within the tests' own timeout.
LIFETIME_S = 110.0


def table_write(
    pipeline: Pipeline, role: str, row_prefix: str = ""
) -> Callable[[SeenRequest], bool]:
    """Matches a write (single or in a transaction) to one of the pipeline's tables.

    Args:
        row_prefix: Only rows whose RowKey starts with it (e.g. `page-` of `crawlsteps`).
    """
    table = pipeline.ctx.tables.name(role)
    # How the table appears in a request line: `/<table>(PartitionKey=...)` or `/<table>`.
    marks = [f"/{table}(", f"/{table} ", f"/{table}?"]
    row = f"RowKey='{row_prefix}"

    def matches(request: SeenRequest) -> bool:
        if request.method not in WRITES:
            return False
        named = any(request.mentions(m) for m in marks) or request.target.endswith(f"/{table}")
        return named and (not row_prefix or request.mentions(row))

    return matches


def graph_item_puts(pipeline: Pipeline) -> dict[str, int]:
    """Item id -> how many PUTs of it the Graph stand-in accepted."""
    prefix = f"/v1.0/external/connections/{CONNECTION_ID}/items/"
    counts: dict[str, int] = {}
    for entry in pipeline.stack.graph.server.requests.entries(method="PUT"):
        if entry.path.startswith(prefix) and 200 <= entry.status < 300:
            item = entry.path[len(prefix) :]
            counts[item] = counts.get(item, 0) + 1
    return counts


def people_hashes(pipeline: Pipeline) -> dict[str, str]:
    """Item id -> the content hash the people table says Graph holds."""
    return {person.item_id: person.content_hash for person in pipeline.ctx.people.records()}


def row_counts(pipeline: Pipeline) -> dict[str, int]:
    """Rows per table role."""
    return {
        role: sum(1 for _ in pipeline.ctx.tables.table(role).list_entities(select=["RowKey"]))
        for role in TABLE_NAMES
    }


def queued(pipeline: Pipeline, *, poison: bool = False) -> int:
    """Messages on the stage queues (or their poison queues), hidden ones included."""
    queues = pipeline.ctx.queues
    counts = (
        queues.client(stage, poison=poison).get_queue_properties().approximate_message_count
        for stage in STAGES
    )
    return sum(count or 0 for count in counts)


def graph_item_put(request: SeenRequest) -> bool:
    """Matches an item write to Graph."""
    return request.method == "PUT" and f"/external/connections/{CONNECTION_ID}/items/" in (
        request.target
    )


@dataclass
class Workers:
    """Starts crash workers for one pipeline, with table and Graph traffic through tripwires."""

    pipeline: Pipeline
    tables: Tripwire
    graph: Tripwire
    azurite: Azurite
    log_dir: Path
    started: list[CrashWorker] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The pipeline's settings, with the table endpoint and Graph behind the tripwires."""
        ports = dict(self.azurite.endpoints.ports)
        ports["table"] = self.tables.port
        return {
            **self.pipeline.stack.env,
            **FAST,
            "AzureWebJobsStorage": AzuriteEndpoints(ports).connection_string,
            "GRAPH_API_URL": f"{self.graph.url}/v1.0",
        }

    def start(self, crawl_id: str | None = None, **options: Any) -> CrashWorker:
        """Start a worker process (see `CrashWorker` for the options)."""
        worker = CrashWorker(
            self.env(),
            self.log_dir / f"worker-{len(self.started) + 1}.log",
            crawl_id=crawl_id,
            **options,
        )
        self.started.append(worker)
        return worker

    def kill_at(
        self,
        worker: CrashWorker,
        tripwire: Tripwire,
        matches: Callable[[SeenRequest], bool],
        nth: int,
    ) -> None:
        """Kill `worker` just before the `nth` request `matches` accepts on `tripwire`.

        Every other request it sends from then on is held too, on both tripwires.
        """

        def crash(_: SeenRequest) -> None:
            for other in (self.tables, self.graph):
                other.freeze()
            worker.kill()

        tripwire.trip_at(matches, nth, on_trip=crash)

    def settle(self) -> None:
        """Wait for the services to answer what a dead worker sent, then forward again."""
        for tripwire in (self.tables, self.graph):
            assert tripwire.settle(), "a forwarded request was never answered"
            tripwire.reset()


@pytest.fixture
def workers(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
    azurite: Azurite,
    tmp_path: Path,
) -> Iterator[Callable[..., Workers]]:
    """Build a pipeline (as `make_pipeline`) and a way to run crash workers on it."""
    running: list[Workers] = []
    with ExitStack() as stack:

        def make(**options: Any) -> Workers:
            pipeline = make_pipeline(env=dict(FAST), **options)
            pipeline.ctx.tables.ensure()
            pipeline.ctx.queues.ensure()
            tables = stack.enter_context(
                Tripwire(azurite.endpoints.ports["table"], max_lifetime_s=LIFETIME_S)
            )
            graph_port = int(pipeline.stack.graph.base_url.rsplit(":", 1)[1])
            graph = stack.enter_context(
                Tripwire(graph_port, rewrite_links=True, max_lifetime_s=LIFETIME_S)
            )
            made = Workers(pipeline, tables, graph, azurite, tmp_path)
            running.append(made)
            return made

        try:
            yield make
        finally:
            for made in running:
                for worker in made.started:
                    worker.close()
