"""The webhook trusts nothing in the body: only Credly's own answer, read for a configured org.

`tests/webhooks/` covers forged and relabelled event ids, unknown organisations and malformed
bodies; these add a body that carries a whole forged badge, and an event id of an
organisation that exists at Credly but is not configured here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from credly_connector.ops.webhooks import receive_event
from credly_connector.pipeline.context import Delivery
from credly_connector.pipeline.dispatch import handle_message
from credly_connector.pipeline.queues import EVENTS
from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from credly_connector.stores.events import EventStore
from devstack.credly.records import Event
from devstack.credly.webhook_rules import notification_payload
from devstack.synthetic import Mutator
from tests.pipeline.conftest import Pipeline

FORGED_BADGE_ID = "f0f0f0f0-0000-4000-8000-00000000beef"


def _first_org_only(make_pipeline: Callable[..., Pipeline], seed: int) -> Pipeline:
    """Two organisations at Credly; the connector configured for the first only, crawled."""
    both = make_pipeline(badges=60, seed=seed, organisations=2)
    first = both.world.org_ids[0]
    listed = [{"id": first, "authTokenSetting": "CREDLY_TOKEN_1"}]
    settings = load_settings({**both.stack.env, "CREDLY_ORGANIZATIONS": json.dumps(listed)})
    pipeline = Pipeline(both.stack, settings, build_context(settings))
    assert pipeline.crawl("full").succeeded
    assert pipeline.stored() == _expected(pipeline)
    return pipeline


def _expected(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    return pipeline.expected(organizations=(pipeline.world.org_ids[0],))


def _deliver_events(pipeline: Pipeline) -> int:
    """Hand every queued event message to the worker, as the queue trigger would."""
    queue = pipeline.ctx.queues.client(EVENTS)
    handled = 0
    for message in queue.receive_messages(messages_per_page=32):
        handle_message(pipeline.ctx, EVENTS, message.content, Delivery())
        queue.delete_message(message)
        handled += 1
    return handled


def _event_of(pipeline: Pipeline, org: str, seed: int) -> Event:
    """A real badge acceptance in `org` that changes someone's expected item."""
    mutator = Mutator(pipeline.world, seed=seed)
    for _ in range(60):
        before = _expected(pipeline)
        mutation = mutator.accept_pending()
        event = pipeline.world.credly.events[mutation.event_ids[-1]]
        if event.org_id == org and _expected(pipeline) != before:
            return event
    raise AssertionError(f"no acceptance in {org} changed an item")


def test_a_forged_badge_in_the_body_changes_nothing_credly_does_not_say(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = _first_org_only(make_pipeline, seed=27)
    first = pipeline.world.org_ids[0]
    event = _event_of(pipeline, first, seed=5)
    victim = next(
        p for p in pipeline.world.people if p.directory_user_id and p.badge_ids and p.enabled
    )
    forged = {
        **notification_payload(event),
        "badge_id": FORGED_BADGE_ID,
        "recipient_email": victim.credly_email,
        "badge": {
            "id": FORGED_BADGE_ID,
            "state": "accepted",
            "public": True,
            "recipient_email": victim.credly_email,
            "issued_at": "2026-01-01T00:00:00Z",
            "badge_template": {"id": "forged-template", "name": "Forged Master Certificate"},
        },
    }

    answer = receive_event(pipeline.ctx, json.dumps(forged).encode())
    handled = _deliver_events(pipeline)

    assert (answer.status, handled) == (200, 1)
    assert pipeline.ctx.badges.find(FORGED_BADGE_ID) == []
    stored = pipeline.stored()
    assert "Forged Master Certificate" not in json.dumps(stored)
    assert stored == _expected(pipeline)


def test_an_event_of_an_organisation_not_configured_changes_nothing(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = _first_org_only(make_pipeline, seed=28)
    first, second = pipeline.world.org_ids
    # An accepted badge of the other organisation: shown on a profile if it were ever read.
    badge = next(b for b in pipeline.world.credly.badges[second].values() if b.state == "accepted")
    event = pipeline.world.credly.add_event(
        Event("ev-of-the-other-org", second, "badge.state.changed", pipeline.world.clock, badge.id)
    )
    writes = pipeline.writes() + pipeline.deletes()
    rows = sorted(b.id for b in pipeline.ctx.badges.scan())
    as_posted = notification_payload(event)
    # The same event id, claimed for the configured organisation.
    relabelled = {**as_posted, "organization_id": first}

    refused = receive_event(pipeline.ctx, json.dumps(as_posted).encode())
    queued_refused = _deliver_events(pipeline)
    accepted = receive_event(pipeline.ctx, json.dumps(relabelled).encode())
    handled = _deliver_events(pipeline)

    # Answered 200 so Credly stops retrying, but ignored: nothing queued, nothing read.
    assert (refused.status, queued_refused) == (200, 0)
    assert isinstance(refused.body, dict)
    assert refused.body["status"] == "ignored"
    assert second in str(refused.body)
    assert (accepted.status, handled) == (200, 1)
    # Read with the first organisation's credentials, Credly does not know the event.
    (asked,) = pipeline.stack.credly.api.requests.entries("events")
    assert (asked.path, asked.status) == (f"/v1/organizations/{first}/events/{event.id}", 404)
    assert EventStore(pipeline.ctx.tables).get(first, event.id) is None
    assert pipeline.writes() + pipeline.deletes() == writes
    assert sorted(b.id for b in pipeline.ctx.badges.scan()) == rows
    assert pipeline.stored() == _expected(pipeline)
