"""The rebuild's own world (its crawls' queues and people table), and the switch to it.

The Functions host's triggers, still writing into the old connection, never take the
rebuild's messages (other queue names), and the people table of the new connection is the
rebuild's own until the swap.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.queues import CrawlQueues
from credly_connector.stores.tables import Tables

SHADOWED = frozenset({"people"})
"""The roles whose table is the rebuild's own (what the new connection holds)."""
BICEP_PARAMETER = "graphConnectionId"


class RebuildTables(Tables):
    """The connector's tables, but `people` is the rebuild's own: what the new connection holds."""

    def __init__(self, base: Tables, to_id: str) -> None:
        """The tables of `base`, with the people table of the connection `to_id`."""
        super().__init__(base.service, base.prefix)
        self.suffix = to_id.lower()

    def name(self, role: str) -> str:
        """The shared table, or the rebuild's own for a role in `SHADOWED`."""
        return f"{self.prefix}{role}{self.suffix}" if role in SHADOWED else super().name(role)


def rebuild_context(ctx: CrawlContext, to_id: str) -> CrawlContext:
    """The context whose crawls write into `to_id`, on the rebuild's queues and people table."""
    tag = "rb" + hashlib.sha256(to_id.encode()).hexdigest()[:8] + "-"
    return CrawlContext(
        replace(ctx.options, connection_id=to_id),
        RebuildTables(ctx.tables, to_id),
        CrawlQueues(ctx.queues.service, ctx.queues.prefix + tag),
        ctx.credly_for,
        ctx.graph_session,
        clock=ctx.clock,
        overrides=ctx.overrides,
    )


def delete_queues(new: CrawlContext) -> None:
    """Delete the rebuild's own queues (those of `rebuild_context`'s prefix)."""
    queues = new.queues.service
    for queue in queues.list_queues(name_starts_with=new.queues.prefix):
        queues.delete_queue(queue.name)


def switch_setting(to_id: str) -> tuple[str, ...]:
    """What the administrator changes once the rebuild is done."""
    return (
        f"set the app setting GRAPH_CONNECTION_ID to {to_id} (and the Bicep parameter "
        f"{BICEP_PARAMETER} of infra/main.bicep in your deployment's parameters, so a "
        "redeploy keeps it); until then do not run setup: it would create the old connection "
        "again",
        "then run a full crawl (python -m credly_connector crawl --kind full) to write what "
        "webhooks changed between the rebuild's catch-up and the setting change",
    )
