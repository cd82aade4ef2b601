"""Starting a crawl: take the organisation's lease, record the crawl, enqueue its start."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.failures import fail_crawl
from credly_connector.pipeline.messages import StartMessage
from credly_connector.stores.crawls import KINDS, CrawlKind, CrawlRecord, new_crawl_id
from credly_connector.stores.leases import LeaseOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchOutcome:
    """A started crawl, or the crawl that holds the organisation's lease."""

    crawl: CrawlRecord | None
    busy_with: str | None = None

    @property
    def started(self) -> bool:
        """Whether a new crawl was started."""
        return self.crawl is not None


def request_crawls(
    ctx: CrawlContext, kind: str, trigger: str, *, dry_run: bool = False
) -> list[LaunchOutcome]:
    """Start a crawl of `kind` for every configured organisation (each under its own lease)."""
    return [
        request_crawl(ctx, kind, trigger, org, dry_run=dry_run) for org in ctx.options.organizations
    ]


def request_crawl(
    ctx: CrawlContext,
    kind: str,
    trigger: str,
    organization_id: str | None = None,
    *,
    dry_run: bool = False,
) -> LaunchOutcome:
    """Start a crawl of `kind` unless one of the organisation is running.

    An incremental crawl with no watermark yet reads everything (but sweeps nothing).

    Args:
        ctx: The stores, queues and settings.
        kind: "full" or "incremental".
        trigger: What asked for it (`timer`, `http`, `cli`...), kept on the record.
        organization_id: One of the configured organisations; the first when omitted.
        dry_run: Run every stage except the Graph writes, recording a preview instead.

    Raises:
        ValueError: When `kind` is not "full" or "incremental", or the organisation is not
            configured.
    """
    if kind not in KINDS:
        msg = f"kind must be one of {', '.join(KINDS)}, not {kind!r}"
        raise ValueError(msg)
    org = organization_id or ctx.options.organizations[0]
    if org not in ctx.options.organizations:
        msg = f"organisation {org} is not configured"
        raise ValueError(msg)
    now = ctx.clock()
    crawl_id = new_crawl_id(now)
    outcome = take_lease(ctx, org, crawl_id, "a new crawl")
    if not outcome.acquired:
        holder = outcome.lease.holder if outcome.lease else None
        log.info("a crawl of %s is running (%s); not starting another", org, holder)
        return LaunchOutcome(None, holder)
    since = ctx.orgstate.get(org).watermark if kind == CrawlKind.INCREMENTAL else None
    record = ctx.crawls.create(
        CrawlRecord(
            crawl_id=crawl_id,
            organization_id=org,
            kind=kind,
            trigger=trigger,
            created_at=now,
            since=since,
            dry_run=dry_run,
        )
    )
    ctx.queues.send(StartMessage(crawl_id))
    log.info("%s crawl %s requested by %s", kind, crawl_id, trigger, extra={"crawl_id": crawl_id})
    return LaunchOutcome(record)


def take_lease(ctx: CrawlContext, organization_id: str, crawl_id: str, taker: str) -> LeaseOutcome:
    """Take the organisation's lease for `crawl_id`, failing a crawl whose lease had expired.

    Args:
        ctx: The stores and settings.
        organization_id: The organisation.
        crawl_id: The crawl taking it.
        taker: Who took over, for the abandoned crawl's failure message ("a new crawl").
    """
    outcome = ctx.leases.acquire(
        organization_id, crawl_id, ctx.clock(), ctx.options.lease, ended=lambda h: _ended(ctx, h)
    )
    if outcome.acquired and outcome.taken_over:
        abandoned = ctx.crawls.get(outcome.taken_over)
        if abandoned is not None and not abandoned.final:
            fail_crawl(
                ctx,
                abandoned,
                abandoned.phase,
                f"abandoned: its lease expired before it finished; {taker} took over",
            )
    return outcome


def _ended(ctx: CrawlContext, holder: str) -> bool:
    """Whether the lease's holder is a crawl whose record already says it ended."""
    record = ctx.crawls.get(holder)
    return record is not None and record.final
