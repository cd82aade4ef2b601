"""A crawl batch and a webhook writing one person at once end with the item the store holds.

The two writers are two pipeline contexts on the same storage and Graph stand-in, as two
instances would be. The pause point is real: a scripted fault of the Graph stand-in runs an
action when one writer's PUT of the person's item arrives, before that PUT is applied.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest

from credly_connector.errors import RetryableError
from credly_connector.pipeline.context import CrawlContext, Delivery
from credly_connector.pipeline.events import APPLIED, EventMessage, EventOutcome, handle_event
from credly_connector.pipeline.rewrites import REWRITE_ATTEMPTS
from credly_connector.runtime import Hooks, build_context
from credly_connector.stores.people import UNKNOWN, PersonRecord
from credly_connector.stores.tables import encode_key
from devstack.credly.records import Event
from devstack.standin.knobs import Fault, FaultKind
from tests.pipeline.conftest import Pipeline

WAIT_S = 60.0


@dataclass
class Target:
    """A person whose item shows a badge, and the change that takes that badge off it."""

    item_id: str
    user_id: str
    badge_id: str


def _target(pipeline: Pipeline) -> Target:
    """The first person whose expected item shows two of their badges (one stays shown)."""
    expected = pipeline.expected()
    for person in pipeline.world.people:
        if person.directory_user_id is None:
            continue
        item = expected.get(person.directory_user_id.replace("-", ""))
        if item is None:
            continue
        urls = {e["webUrl"] for e in item["certifications"] + item["awards"]}
        shown = [b for b in person.badge_ids if any(u.endswith(f"/badges/{b}") for u in urls)]
        if len(shown) >= 2:
            return Target(item["id"], person.directory_user_id, shown[0])
    raise AssertionError("no person shows two badges")


def _hide_badge(pipeline: Pipeline, target: Target, event_id: str) -> EventMessage:
    """Make the badge private at Credly, which sends its webhook event."""
    world, org = pipeline.world, pipeline.stack.organization_id
    badge = world.credly.badges[org][target.badge_id]
    world.credly.put_badge(
        replace(badge, public=False, updated_at=badge.updated_at + timedelta(seconds=1))
    )
    world.credly.add_event(
        Event(event_id, org, "badge.privacy.changed", world.clock, badge_id=target.badge_id)
    )
    return EventMessage(event_id, org, "badge.privacy.changed")


def _pause_put(pipeline: Pipeline, target: Target, action: Callable[[], None]) -> Fault:
    """Run `action` when the next PUT of the target's item arrives, before it is applied."""
    return pipeline.stack.graph.knobs.add_fault(
        Fault(
            FaultKind.CALL,
            method="PUT",
            path_contains=f"/items/{target.item_id}",
            times=1,
            action=action,
        )
    )


def _other_instance(pipeline: Pipeline) -> CrawlContext:
    """A second context on the same storage and Graph: another instance of the app."""
    return build_context(pipeline.settings)


def test_a_batch_that_read_before_a_webhook_does_not_leave_its_stale_item(
    make_pipeline,
) -> None:
    # Given a person shown with a badge, and a full crawl whose batch composes them from the
    # stored badges; when that batch's PUT of the item reaches Graph, the badge is made
    # private and its webhook is handled to the end on another instance
    pipeline: Pipeline = make_pipeline(badges=120, seed=51)
    target = _target(pipeline)
    other = _other_instance(pipeline)
    outcomes: list[EventOutcome] = []

    def webhook_completes() -> None:
        message = _hide_badge(pipeline, target, "ev-race-1")
        outcomes.append(handle_event(other, message, Delivery()))

    pause = _pause_put(pipeline, target, webhook_completes)

    # When the batch resumes and writes the item it composed before the change
    assert pipeline.crawl("full").succeeded

    # Then the webhook did write the person in between, and the item is the store's
    assert pause.fired == 1
    (outcome,) = outcomes
    assert outcome.outcome == APPLIED
    assert outcome.recomposed is not None
    assert target.user_id in outcome.recomposed.written
    expected = pipeline.expected()
    assert target.badge_id not in str(expected[target.item_id])
    assert pipeline.stored()[target.item_id] == expected[target.item_id]
    assert pipeline.stored() == expected
    # And the record agrees with Graph: an unchanged run writes nothing
    writes = pipeline.writes()
    assert pipeline.crawl("full").succeeded
    assert pipeline.writes() == writes
    assert pipeline.stored() == expected


def test_a_webhook_stopped_before_its_write_while_a_batch_completes_ends_exact(
    make_pipeline,
) -> None:
    # Given a person shown with a badge and a full crawl composing them from the stored
    # badges; when the batch's PUT arrives, the badge is made private and the webhook runs
    # on another instance up to its own PUT of the item, where it is held
    pipeline: Pipeline = make_pipeline(badges=120, seed=52)
    target = _target(pipeline)
    other = _other_instance(pipeline)
    at_write, release = threading.Event(), threading.Event()
    outcomes: list[EventOutcome] = []
    errors: list[BaseException] = []

    def hold_webhook() -> None:
        at_write.set()
        assert release.wait(WAIT_S)

    def run_webhook(message: EventMessage) -> None:
        try:
            outcomes.append(handle_event(other, message, Delivery()))
        except BaseException as error:  # reported by the test below
            errors.append(error)

    webhook = threading.Thread(target=lambda: None)

    def webhook_reaches_its_write() -> None:
        nonlocal webhook
        message = _hide_badge(pipeline, target, "ev-race-2")
        _pause_put(pipeline, target, hold_webhook)
        webhook = threading.Thread(target=run_webhook, args=(message,), name="webhook")
        webhook.start()
        assert at_write.wait(WAIT_S)

    first = _pause_put(pipeline, target, webhook_reaches_its_write)
    try:
        # When the batch writes and records its item (composed before the change) and the
        # crawl ends while the webhook waits
        assert pipeline.crawl("full").succeeded
        assert first.fired == 1
        assert pipeline.stored()[target.item_id] != pipeline.expected()[target.item_id]
    finally:
        # Then the webhook resumes and writes
        release.set()
        if webhook.ident is not None:
            webhook.join(WAIT_S)
    assert not webhook.is_alive()
    assert errors == []
    (outcome,) = outcomes
    assert outcome.outcome == APPLIED
    # And the item is the store's, and the record agrees with Graph
    expected = pipeline.expected()
    assert pipeline.stored() == expected
    writes = pipeline.writes()
    assert pipeline.crawl("full").succeeded
    assert pipeline.writes() == writes


class PeopleOperations:
    """Counts the storage requests that touch the people table (transactions included)."""

    def __init__(self, table_name: str) -> None:
        # The table's path in a request line or URL: rows `name(...)`, inserts `name`, queries.
        self._path = re.compile(rb"/" + re.escape(table_name.encode()) + rb"(?:[( ?]|$)")
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, response: Any) -> None:
        request = response.http_request
        body = request.body if isinstance(request.body, bytes) else b""
        if self._path.search(str(request.url).encode()) or self._path.search(body):
            with self._lock:
                self.count += 1


def test_an_unconflicted_crawl_records_people_in_transactions_of_25(make_pipeline) -> None:
    # Given a world crawled by a context whose table requests are counted
    pipeline: Pipeline = make_pipeline(badges=240, seed=53)
    counter = PeopleOperations(pipeline.ctx.tables.name("people"))
    pipeline.ctx = build_context(pipeline.settings, hooks=Hooks(table_response=counter))

    # When a full crawl writes everyone, then a second finds nothing changed
    assert pipeline.crawl("full").succeeded
    written = len(pipeline.stored())
    first = counter.count
    counter.count = 0
    again = pipeline.crawl("full")
    assert again.succeeded
    assert again.record is not None
    second = counter.count
    without_item = again.record.counts.get("people_without_item", 0)

    # Then the first recorded people in transactions of up to 25 (one scan of the empty
    # table, the plan's walk of the people; at most one transaction per 25 people and one
    # per batch's remainder) and read nobody's row;
    # the second recorded nobody, reading each stored person twice (their range batch
    # looks whether they have an item, their people batch composes them), each person with
    # badges but no item once, and the table once
    batches = -(-written // pipeline.settings.crawl.profile_batch_size)
    assert pipeline.stored() == pipeline.expected()
    assert 0 < first <= 1 + -(-written // 25) + batches
    assert second == 2 * written + without_item + 1


class ReadOrder:
    """The order in which a crawl read people's rows and ranges of badge rows."""

    def __init__(self, people_table: str, badges_table: str) -> None:
        self._person = re.compile(
            re.escape(f"/{people_table}(PartitionKey=") + r"'[^']*',RowKey='([^']*)'"
        )
        self._range = re.compile(re.escape(f"/{badges_table}()") + r".*RowKey ge '([^']*)'")
        self.reads: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, response: Any) -> None:
        request = response.http_request
        if request.method != "GET":
            return
        url = unquote(str(request.url))
        ranged = self._range.search(url)
        person = self._person.search(url)
        read = (
            ("span", ranged.group(1)) if ranged else ("person", person.group(1)) if person else None
        )
        if read:
            with self._lock:
                self.reads.append(read)


def test_a_batch_reads_every_persons_row_before_its_badges(make_pipeline) -> None:
    # Given people with items, and a full crawl of one batch of people whose reads are watched
    pipeline: Pipeline = make_pipeline(badges=240, seed=54)
    assert pipeline.crawl("full").succeeded
    order = ReadOrder(pipeline.ctx.tables.name("people"), pipeline.ctx.tables.name("badges"))
    pipeline.ctx = build_context(pipeline.settings, hooks=Hooks(table_response=order))

    # When the batch composes them again
    assert pipeline.crawl("full").succeeded

    # Then the batch that composed each stored person (their people batch) read their row
    # before their badges: a record conditional on that row then proves the badges were
    # read after any earlier record
    stored = pipeline.stored()
    assert stored
    people = {
        p.directory_user_id: encode_key(p.credly_email.lower())
        for p in pipeline.world.people
        if p.directory_user_id and p.directory_user_id.replace("-", "") in stored
    }
    assert len(people) == len(stored)
    for user_id, email in people.items():
        rows = [
            i for i, (kind, key) in enumerate(order.reads) if kind == "person" and key == user_id
        ]
        # An email's own range starts at its key and the store's two-character separator.
        badges = [
            i for i, (kind, low) in enumerate(order.reads) if kind == "span" and low[:-2] == email
        ]
        assert rows, user_id
        assert badges, email
        assert min(rows) < min(badges), (user_id, order.reads)


def test_a_writer_refused_every_time_gives_up_and_the_next_delivery_rewrites(
    make_pipeline,
) -> None:
    # Given a crawled person, and another writer that records them again whenever the
    # webhook's write of their item reaches Graph
    pipeline: Pipeline = make_pipeline(badges=120, seed=55)
    assert pipeline.crawl("full").succeeded
    target = _target(pipeline)
    other = _other_instance(pipeline)
    ctx = pipeline.ctx

    def someone_records_them() -> None:
        record = PersonRecord(target.user_id, target.item_id, "theirs", "", ctx.clock())
        other.people.put_many([record])

    storm = pipeline.stack.graph.knobs.add_fault(
        Fault(
            FaultKind.CALL,
            method="PUT",
            path_contains=f"/items/{target.item_id}",
            times=None,
            action=someone_records_them,
        )
    )
    message = _hide_badge(pipeline, target, "ev-storm")

    # When the webhook is handled, then it is refused on every round, gives up with a
    # retryable error and marks the row so that whoever writes next writes the item
    with pytest.raises(RetryableError):
        handle_event(ctx, message, Delivery())
    assert storm.fired == REWRITE_ATTEMPTS
    record = ctx.people.get(target.user_id)
    assert record is not None
    assert record.content_hash == UNKNOWN

    # And once the storm ends, the event's next delivery ends with the store's item
    pipeline.stack.graph.knobs.clear_faults()
    assert handle_event(ctx, message, Delivery(dequeue_count=2)).outcome == APPLIED
    assert pipeline.stored() == pipeline.expected()


def test_a_webhook_held_while_a_crawl_stores_newer_badges_writes_the_newer_item(
    make_pipeline,
) -> None:
    # Given a crawled person whose badge is made private: its webhook, on another
    # instance, refreshes the badge and is held at its write of the item
    pipeline: Pipeline = make_pipeline(badges=120, seed=56)
    assert pipeline.crawl("full").succeeded
    target = _target(pipeline)
    other = _other_instance(pipeline)
    at_write, release = threading.Event(), threading.Event()
    outcomes: list[EventOutcome] = []

    def hold_webhook() -> None:
        at_write.set()
        assert release.wait(WAIT_S)

    held = _pause_put(pipeline, target, hold_webhook)
    message = _hide_badge(pipeline, target, "ev-held")
    webhook = threading.Thread(
        target=lambda: outcomes.append(handle_event(other, message, Delivery())), name="webhook"
    )
    webhook.start()
    try:
        assert at_write.wait(WAIT_S)
        # When the badge is made public again and a crawl stores it, finding the person's
        # recorded item unchanged (so recording nothing), before the webhook writes
        world, org = pipeline.world, pipeline.stack.organization_id
        badge = world.credly.badges[org][target.badge_id]
        world.credly.put_badge(
            replace(badge, public=True, updated_at=badge.updated_at + timedelta(seconds=1))
        )
        writes = pipeline.writes()
        assert pipeline.crawl("full").succeeded
        assert pipeline.writes() == writes
    finally:
        release.set()
        webhook.join(WAIT_S)
    assert not webhook.is_alive()

    # Then the webhook, having written the private version, reads again and writes the
    # item the store holds now
    assert held.fired == 1
    (outcome,) = outcomes
    assert outcome.outcome == APPLIED
    expected = pipeline.expected()
    assert target.badge_id in str(expected[target.item_id])
    assert pipeline.stored() == expected
