"""Crawls written to Graph's letter: the tenant in the `everyone` ACL, a warming profile source."""

from __future__ import annotations

import requests

from credly_connector.graph.profile_source import profile_source_body
from devstack.connected import CONNECTION_ID
from devstack.graph.item_gate import NOT_READY_CODE, WARMUP_MODE
from tests.pipeline.conftest import Pipeline


def test_every_item_grants_everyone_by_the_tenant_id_from_the_token(make_pipeline) -> None:
    pipeline: Pipeline = make_pipeline(badges=60, seed=41)
    assert pipeline.settings.graph.tenant_id is None  # a fixed token: its tid names the tenant

    result = pipeline.crawl("full")

    assert result.succeeded, result.record
    # The oracle checks every stored item's acl names the stand-in's tenant; the stand-in
    # refuses the bare literal `everyone` with 400, as Graph's validation would.
    assert pipeline.stored() == pipeline.expected()
    assert pipeline.stack.graph.server.requests.count("items", "PUT", 400) == 0


def test_a_crawl_right_after_the_source_is_registered_waits_and_ends_exact(
    make_pipeline,
) -> None:
    pipeline: Pipeline = make_pipeline(badges=60, seed=43)
    graph = pipeline.stack.graph
    graph.knobs.set_mode(WARMUP_MODE, "8")
    registered = requests.post(
        f"{graph.graph_url}/admin/people/profileSources",
        json=profile_source_body(CONNECTION_ID, "https://www.credly.com"),
        headers={"Authorization": f"Bearer {pipeline.stack.env['GRAPH_ACCESS_TOKEN']}"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text

    result = pipeline.crawl("full")

    assert result.succeeded, result.record
    assert pipeline.stored() == pipeline.expected()
    refusals = [e for e in graph.server.requests.entries("items", "PUT") if e.status == 409]
    assert refusals, f"no write met the {NOT_READY_CODE} refusal (the crawl started late?)"
