"""What the composition root takes besides the settings: observers, and the pipeline options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests

from credly_connector.pipeline.context import PipelineOptions
from credly_connector.settings import Settings


@dataclass
class Hooks:
    """Optional observers the benchmark and tests attach (request counters)."""

    credly_request: Callable[[str, int | None], None] | None = None
    graph_request: Callable[[str, str, int | None], None] | None = None
    credly_session: requests.Session | None = None
    # `raw_response_hook` of the table and of the queue clients: one call per HTTP request.
    table_response: Callable[[Any], None] | None = None
    queue_response: Callable[[Any], None] | None = None


def pipeline_options(settings: Settings) -> PipelineOptions:
    """The pipeline's view of the settings."""
    return PipelineOptions(
        organizations=settings.credly.organization_ids,
        connection_id=settings.graph.connection_id,
        web_url=settings.credly.web_url,
        include_expired=settings.crawl.include_expired,
        index_skills=settings.crawl.index_skills,
        lease=timedelta(minutes=settings.crawl.lease_minutes),
        batch_size=settings.crawl.profile_batch_size,
        write_concurrency=settings.crawl.graph_write_concurrency,
        tenant_id=settings.graph.tenant_id,
    )
