"""Several Credly organisations: crawled under their own leases, merged into one item per person."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from credly_connector.ops.crawls import start_crawl
from credly_connector.pipeline.launch import request_crawls
from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from devstack.connected import organization_settings
from tests.pipeline.conftest import Pipeline
from tests.pipeline.oracle import expected_items

FAST_WRITES = {"GRAPH_WRITE_RATE": "1000"}


def _people_with_badges_in_both(pipeline: Pipeline) -> set[str]:
    first, second = pipeline.world.org_ids
    emails = [
        {b.recipient_email.lower() for b in pipeline.world.credly.badges[org].values()}
        for org in (first, second)
    ]
    return emails[0] & emails[1]


def test_badges_of_two_organisations_are_merged_into_one_item_per_person(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given a world with two organisations, both configured in CREDLY_ORGANIZATIONS.
    pipeline = make_pipeline(badges=300, seed=21, organisations=2, env=FAST_WRITES)
    first, second = pipeline.world.org_ids
    assert pipeline.ctx.options.organizations == (first, second)
    assert _people_with_badges_in_both(pipeline)

    # When each organisation is crawled (each under its own lease and records).
    one = pipeline.crawl("full", first)
    two = pipeline.crawl("full", second)

    # Then both succeeded, and every person's one item carries the badges of both.
    assert one.succeeded
    assert two.succeeded
    assert one.record is not None
    assert two.record is not None
    assert {one.record.organization_id, two.record.organization_id} == {first, second}
    assert pipeline.stored() == pipeline.expected()
    assert pipeline.ctx.orgstate.get(first).watermark is not None
    assert pipeline.ctx.orgstate.get(second).watermark is not None


def test_two_organisations_hold_separate_leases(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=60, seed=5, organisations=2, env=FAST_WRITES)
    pipeline.ctx.tables.ensure()
    pipeline.ctx.queues.ensure()

    # When the timer asks for a crawl of every organisation while none runs.
    outcomes = request_crawls(pipeline.ctx, "incremental", "timer")
    again = request_crawls(pipeline.ctx, "incremental", "timer")

    # Then one crawl per organisation starts, and a second request is refused for each.
    assert [o.crawl is not None for o in outcomes] == [True, True]
    orgs = {o.crawl.organization_id for o in outcomes if o.crawl is not None}
    assert orgs == set(pipeline.world.org_ids)
    assert [o.crawl for o in again] == [None, None]
    assert {o.busy_with for o in again} == {o.crawl.crawl_id for o in outcomes if o.crawl}


def test_removing_an_organisation_removes_its_badges_at_the_next_full_crawl(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    # Given both organisations crawled into the profiles.
    pipeline = make_pipeline(badges=300, seed=21, organisations=2, env=FAST_WRITES)
    first, second = pipeline.world.org_ids
    assert pipeline.crawl("full", first).succeeded
    assert pipeline.crawl("full", second).succeeded

    # When the second organisation is removed from the settings and a full crawl runs.
    env = {k: v for k, v in pipeline.stack.env.items() if not k.startswith("CREDLY_TOKEN_")}
    env.update(organization_settings(pipeline.world, org_ids=(first,)))
    settings = load_settings(env)
    pipeline.ctx = build_context(settings)
    assert pipeline.ctx.options.organizations == (first,)
    result = pipeline.crawl("full")

    # Then the profiles hold only the first organisation's badges.
    assert result.succeeded
    only_first = expected_items(
        pipeline.world,
        now=datetime.now(UTC),
        web_url=settings.credly.web_url,
        organizations=(first,),
    )
    assert pipeline.stored() == only_first
    assert only_first != pipeline.expected()
    assert list(pipeline.ctx.badges.keys(second)) == []


def test_starting_over_http_without_an_organisation_starts_one_crawl_each(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=60, seed=5, organisations=2, env=FAST_WRITES)
    pipeline.ctx.tables.ensure()
    pipeline.ctx.queues.ensure()
    url = "http://127.0.0.1/api/ops/crawls/{id}"

    answer = start_crawl(pipeline.ctx, b'{"kind": "full"}', status_url=url, trigger="http")
    busy = start_crawl(pipeline.ctx, b'{"kind": "full"}', status_url=url, trigger="http")

    assert answer.status == 202
    assert isinstance(answer.body, dict)
    started = {c["organizationId"] for c in answer.body["crawls"]}
    assert started == set(pipeline.world.org_ids)
    assert answer.body["running"] == []
    assert busy.status == 409


def test_starting_over_http_names_one_organisation_or_refuses_an_unknown_one(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=60, seed=5, organisations=2, env=FAST_WRITES)
    pipeline.ctx.tables.ensure()
    pipeline.ctx.queues.ensure()
    url = "http://127.0.0.1/api/ops/crawls/{id}"
    second = pipeline.world.org_ids[1]

    one = start_crawl(
        pipeline.ctx, f'{{"organizationId": "{second}"}}'.encode(), status_url=url, trigger="t"
    )
    unknown = start_crawl(
        pipeline.ctx,
        b'{"organizationId": "00000000-0000-0000-0000-000000000000"}',
        status_url=url,
        trigger="t",
    )
    wrong = start_crawl(pipeline.ctx, b'{"dryRun": "yes"}', status_url=url, trigger="t")

    assert one.status == 202
    assert isinstance(one.body, dict)
    assert one.body["organizationId"] == second
    assert "crawls" not in one.body
    assert unknown.status == 404
    assert "is not configured" in json.dumps(unknown.body)
    assert wrong.status == 400
    assert [r.organization_id for r in pipeline.ctx.crawls.latest()] == [second]
