"""Near-real-time updates end to end: Credly stand-in webhook -> functions host -> queue ->
local dispatcher -> badge store -> Graph stand-in item, with no crawl running."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from credly_connector.stores.events import EventStatus, EventStore
from devstack.credly.records import Event
from devstack.credly.webhooks import DeliveryState, notification_payload
from devstack.synthetic import Mutator
from tests.webhooks.conftest import WebhookStack, delivering, wait_until

ITEM_DEADLINE_S = 10.0
log = logging.getLogger(__name__)


def _first_attempt_at(stack: WebhookStack, event_id: str) -> float:
    webhooks = stack.stack.credly.webhooks
    wait_until(lambda: any(a.event_id == event_id for a in webhooks.delivery_log()), "a POST")
    return min(a.at for a in webhooks.delivery_log() if a.event_id == event_id)


def _changed_items(before: Mapping[str, object], after: Mapping[str, object]) -> set[str]:
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def test_an_accepted_badge_reaches_the_persons_item_within_10_s_of_the_webhook(
    make_stack, record_property
) -> None:
    stack: WebhookStack = make_stack(seed=11)
    assert stack.pipeline.crawl("full").succeeded
    before = stack.pipeline.expected()
    assert stack.pipeline.stored() == before
    accepted = stack.change_visibly(Mutator(stack.world, seed=5).accept_pending)
    (item_id,) = _changed_items(before, stack.pipeline.expected())
    stack.subscribe()

    with stack.dispatching() as dispatcher, delivering(stack):
        called_at = _first_attempt_at(stack, accepted.event_ids[-1])
        expected = stack.pipeline.expected()[item_id]
        while time.monotonic() - called_at < ITEM_DEADLINE_S:
            if stack.pipeline.stored().get(item_id) == expected:
                break
            time.sleep(0.01)
        latency = time.monotonic() - called_at
        dispatcher.wait_handled(len(stack.world.credly.events))

    (first, *_) = [
        a
        for a in stack.stack.credly.webhooks.delivery_log()
        if a.event_id == accepted.event_ids[-1]
    ]
    record_property("webhook_answer_s", round(first.duration_s, 3))
    record_property("webhook_to_item_s", round(latency, 3))
    log.warning("webhook answered %s in %.3f s", first.status, first.duration_s)
    log.warning("webhook-to-item latency: %.3f s", latency)
    assert stack.stack.credly.webhooks.state(accepted.event_ids[-1]) == DeliveryState.DELIVERED
    assert stack.pipeline.stored().get(item_id) == expected
    assert latency < ITEM_DEADLINE_S
    assert stack.pipeline.stored() == stack.pipeline.expected()
    (crawl,) = stack.ctx.crawls.latest(5)  # the full crawl alone, over before the webhook
    assert crawl.final
    record = EventStore(stack.ctx.tables).get(stack.org, accepted.event_ids[-1])
    assert record is not None
    assert (record.status, record.outcome, record.emails) == (EventStatus.DONE, "applied", ())


def test_revoke_and_delete_events_take_the_badge_off_the_item(make_stack) -> None:
    stack: WebhookStack = make_stack(seed=12)
    assert stack.pipeline.crawl("full").succeeded
    mutator = Mutator(stack.world, seed=6)
    revoked = stack.change_visibly(mutator.revoke)
    deleted = stack.change_visibly(mutator.delete_badge)
    stack.subscribe()

    with stack.dispatching() as dispatcher, delivering(stack):
        dispatcher.wait_handled(len(stack.world.credly.events))

    assert stack.pipeline.stored() == stack.pipeline.expected()
    (row,) = stack.ctx.badges.find(revoked.badge_ids[0])
    assert row.state == "revoked"
    assert stack.ctx.badges.find(deleted.badge_ids[0]) == []


def test_a_replayed_event_writes_nothing(make_stack) -> None:
    stack: WebhookStack = make_stack(seed=13)
    assert stack.pipeline.crawl("full").succeeded
    accepted = stack.change_visibly(Mutator(stack.world, seed=7).accept_pending)
    event = stack.world.credly.events[accepted.event_ids[-1]]
    stack.subscribe()
    with stack.dispatching() as dispatcher:
        with delivering(stack):
            dispatcher.wait_handled(len(stack.world.credly.events))
        changes = stack.pipeline.writes(), stack.pipeline.deletes()
        rows = stack.ctx.badges.find(accepted.badge_ids[0])
        handled = dispatcher.handled()

        replay = stack.post(notification_payload(event))
        dispatcher.wait_handled(handled + 1)

    assert replay.status_code == 200
    assert (stack.pipeline.writes(), stack.pipeline.deletes()) == changes
    assert stack.ctx.badges.find(accepted.badge_ids[0]) == rows
    assert stack.pipeline.stored() == stack.pipeline.expected()


def test_a_badge_made_private_leaves_the_profile_at_once(make_stack) -> None:
    stack: WebhookStack = make_stack(seed=14)
    assert stack.pipeline.crawl("full").succeeded
    hidden = stack.change_visibly(Mutator(stack.world, seed=8).make_private)
    event = stack.world.credly.events[hidden.event_ids[-1]]
    assert event.event_type == "badge.privacy.changed"
    assert stack.pipeline.stored() != stack.pipeline.expected()

    with stack.dispatching() as dispatcher:
        answer = stack.post(notification_payload(event))
        dispatcher.wait_handled(1)

    assert answer.status_code == 200
    assert stack.pipeline.stored() == stack.pipeline.expected()


def test_other_event_types_are_acknowledged_and_ignored(make_stack) -> None:
    stack: WebhookStack = make_stack(seed=14)
    assert stack.pipeline.crawl("full").succeeded
    badge = next(iter(stack.world.credly.badges[stack.org].values()))
    event = stack.world.credly.add_event(
        Event(
            id="e0e0e0e0-0000-4000-8000-000000000001",
            org_id=stack.org,
            event_type="badge_template.updated",
            occurred_at=stack.world.clock,
            badge_id=badge.id,
        )
    )
    changes = stack.graph_changes()
    rows = stack.ctx.badges.find(badge.id)

    with stack.dispatching() as dispatcher:
        answer = stack.post(notification_payload(event))
        dispatcher.wait_handled(1)

    assert answer.status_code == 200
    assert stack.graph_changes() == changes
    assert stack.ctx.badges.find(badge.id) == rows
    record = EventStore(stack.ctx.tables).get(stack.org, event.id)
    assert record is not None
    assert (record.status, record.outcome) == (EventStatus.IGNORED, "ignored_type")


def test_a_forged_notification_changes_nothing_credly_does_not_confirm(make_stack) -> None:
    stack: WebhookStack = make_stack(seed=15)
    assert stack.pipeline.crawl("full").succeeded
    accepted = stack.change_visibly(Mutator(stack.world, seed=9).accept_pending)
    real = stack.world.credly.events[accepted.event_ids[-1]]
    shown = next(
        badge.id
        for badge in stack.world.credly.badges[stack.org].values()
        if badge.state == "accepted" and badge.id != real.badge_id
    )
    forged_id = "f0f0f0f0-0000-4000-8000-000000000001"
    forged = {
        "id": forged_id,
        "organization_id": stack.org,
        "event_type": "badge.deleted",
        "occurred_at": "2030-01-01T00:00:00Z",
        "badge": {"id": shown},
        "badge_id": shown,
    }
    # A real event id, but a claim that it deleted another badge.
    relabelled = {**notification_payload(real), "event_type": "badge.deleted", "badge_id": shown}
    changes = stack.graph_changes()
    shown_rows = stack.ctx.badges.find(shown)
    accepted_rows = stack.ctx.badges.find(accepted.badge_ids[0])

    with stack.dispatching() as dispatcher:
        assert stack.post(forged).status_code == 200
        dispatcher.wait_handled(1)
        assert stack.graph_changes() == changes
        assert stack.ctx.badges.find(shown) == shown_rows
        assert stack.ctx.badges.find(accepted.badge_ids[0]) == accepted_rows
        assert EventStore(stack.ctx.tables).get(stack.org, forged_id) is None

        assert stack.post(relabelled).status_code == 200
        dispatcher.wait_handled(2)

    # The relabelled notification is treated as the event Credly describes: the accept.
    assert stack.ctx.badges.find(shown) == shown_rows
    (row,) = stack.ctx.badges.find(accepted.badge_ids[0])
    assert row.state == "accepted"
    assert stack.pipeline.stored() == stack.pipeline.expected()
