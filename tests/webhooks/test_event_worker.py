"""The events queue worker against Azurite and both stand-ins (no HTTP receiver needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from credly_connector.credly.errors import CredlyNotFoundError
from credly_connector.pipeline.context import Delivery
from credly_connector.pipeline.dispatch import handle_message, handle_poison
from credly_connector.pipeline.events import (
    APPLIED,
    UNCONFIGURED,
    EventMessage,
    encode_event,
    handle_event,
)
from credly_connector.pipeline.queues import EVENTS
from credly_connector.stores.badges import BadgeKey
from credly_connector.stores.events import EventRecord, EventStatus, EventStore
from devstack.credly.records import Event
from devstack.synthetic import Mutator
from tests.pipeline.conftest import Pipeline

OTHER_ORG = "0c3e5a7b-9d1f-4b2a-8c4d-6e8f0a2b4c6d"


def _shown_people(pipeline: Pipeline) -> list[tuple[str, str, list[str]]]:
    """(item id, credly email, badge ids shown) of people whose items show badges."""
    expected = pipeline.expected()
    shown = []
    for person in pipeline.world.people:
        if person.directory_user_id is None:
            continue
        item = expected.get(person.directory_user_id.replace("-", ""))
        if item is None:
            continue
        urls = {e["webUrl"] for e in item["certifications"] + item["awards"]}
        ids = [b for b in person.badge_ids if any(u.endswith(f"/badges/{b}") for u in urls)]
        if ids:
            shown.append((item["id"], person.credly_email, ids))
    return shown


def _event(pipeline: Pipeline, event_id: str, badge_id: str, kind: str) -> EventMessage:
    world = pipeline.world
    world.credly.add_event(
        Event(event_id, pipeline.stack.organization_id, kind, world.clock, badge_id=badge_id)
    )
    return EventMessage(event_id, pipeline.stack.organization_id, kind)


def test_the_events_client_call_reads_credlys_event_and_refuses_an_unknown_one(
    make_pipeline,
) -> None:
    pipeline: Pipeline = make_pipeline(badges=20, seed=41)
    mutation = Mutator(pipeline.world, seed=1).revoke()
    client = pipeline.ctx.credly_for(pipeline.stack.organization_id)

    data = client.event(mutation.event_ids[0])

    assert data["event_type"] == "badge.state.changed"
    assert data["badge"]["id"] == mutation.badge_ids[0]
    with pytest.raises(CredlyNotFoundError):
        client.event("no-such-event")


def test_a_badge_moved_to_another_email_leaves_the_first_person_for_the_second(
    make_pipeline,
) -> None:
    pipeline: Pipeline = make_pipeline(seed=42, badges=120)
    assert pipeline.crawl("full").succeeded
    (first_item, _, badge_ids), (second_item, second_email, _) = _shown_people(pipeline)[:2]
    org = pipeline.stack.organization_id
    credly = pipeline.world.credly
    moved = credly.badges[org][badge_ids[0]]
    credly.put_badge(
        replace(
            moved,
            recipient_email=second_email,
            updated_at=moved.updated_at + timedelta(seconds=1),
        )
    )
    message = _event(pipeline, "ev-moved", moved.id, "badge.state.changed")
    before = pipeline.stored()

    outcome = handle_event(pipeline.ctx, message, Delivery())

    assert outcome.outcome == APPLIED
    stored = pipeline.stored()
    assert stored.get(first_item) != before[first_item]
    assert stored[second_item] != before[second_item]
    assert stored == pipeline.expected()
    (row,) = pipeline.ctx.badges.find(moved.id)
    assert row.recipient_email == second_email.lower()


def test_a_redelivery_after_a_failure_recomposes_the_people_already_changed(
    make_pipeline,
) -> None:
    pipeline: Pipeline = make_pipeline(seed=43, badges=120)
    assert pipeline.crawl("full").succeeded
    (item_id, email, badge_ids), *_ = _shown_people(pipeline)
    org = pipeline.stack.organization_id
    pipeline.world.credly.remove_badge(org, badge_ids[0])
    message = _event(pipeline, "ev-gone", badge_ids[0], "badge.deleted")
    # The first delivery removed the row, then failed before recomposing (e.g. Graph down).
    (row,) = pipeline.ctx.badges.find(badge_ids[0])
    events = EventStore(pipeline.ctx.tables)
    events.put(
        EventRecord(org, "ev-gone", EventStatus.PENDING, "badge.deleted", row.id, emails=(email,))
    )
    pipeline.ctx.badges.delete(BadgeKey.of(row))
    assert pipeline.stored()[item_id] != pipeline.expected().get(item_id)

    outcome = handle_event(pipeline.ctx, message, Delivery(dequeue_count=2))

    assert outcome.outcome == APPLIED
    assert pipeline.stored() == pipeline.expected()
    record = events.get(org, "ev-gone")
    assert record is not None
    assert (record.status, record.emails) == (EventStatus.DONE, ())


def test_a_poisoned_event_is_recorded_failed_and_keeps_its_emails(make_pipeline) -> None:
    pipeline: Pipeline = make_pipeline(badges=20, seed=44)
    pipeline.ctx.tables.ensure()
    org = pipeline.stack.organization_id
    events = EventStore(pipeline.ctx.tables)
    events.put(EventRecord(org, "ev-stuck", EventStatus.PENDING, emails=("a@example.com",)))

    handle_poison(pipeline.ctx, EVENTS, encode_event(EventMessage("ev-stuck", org)))

    record = events.get(org, "ev-stuck")
    assert record is not None
    assert (record.status, record.emails) == (EventStatus.FAILED, ("a@example.com",))


def test_an_event_of_an_organisation_no_longer_configured_is_dropped_unread(
    make_pipeline,
) -> None:
    pipeline: Pipeline = make_pipeline(badges=20, seed=45)
    requests_before = len(pipeline.stack.credly.api.requests.entries())

    outcome = handle_event(pipeline.ctx, EventMessage("ev-1", OTHER_ORG), Delivery())

    assert outcome.outcome == UNCONFIGURED
    assert len(pipeline.stack.credly.api.requests.entries()) == requests_before


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'{"event_id": "a/b", "organization_id": "x"}']
)
def test_a_malformed_queue_message_is_dropped(make_pipeline, body: bytes) -> None:
    pipeline: Pipeline = make_pipeline(badges=20, seed=46)
    requests_before = len(pipeline.stack.credly.api.requests.entries())

    handle_message(pipeline.ctx, EVENTS, body, Delivery())

    assert len(pipeline.stack.credly.api.requests.entries()) == requests_before
