"""Planning one badge's refresh from its stored rows and Credly's current state (pure)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from credly_connector.errors import BadDataError
from credly_connector.pipeline.events import (
    EventMessage,
    confirm_event,
    decode_event,
    encode_event,
)
from credly_connector.pipeline.refresh import RefreshPlan, plan_refresh
from tests.rules.builders import ORG_ID, make_badge

STORED = make_badge()
LATER = STORED.updated_at + timedelta(minutes=5)  # type: ignore[operator]


def test_an_unchanged_badge_needs_nothing() -> None:
    plan = plan_refresh([STORED], make_badge())

    assert plan == RefreshPlan()
    assert not plan.changes
    assert plan.emails == set()


def test_a_new_badge_is_written() -> None:
    plan = plan_refresh([], STORED)

    assert plan.write == STORED
    assert plan.emails == {STORED.recipient_email}


def test_a_changed_state_is_written_over_the_stored_row() -> None:
    revoked = make_badge(state="revoked", updated_at=LATER)

    plan = plan_refresh([STORED], revoked)

    assert (plan.write, plan.remove) == (revoked, ())


def test_a_gone_badge_removes_every_stored_row() -> None:
    moved = make_badge(recipient_email="other@contoso.com")

    plan = plan_refresh([STORED, moved], None)

    assert plan.remove == (STORED, moved)
    assert plan.write is None
    assert plan.emails == {STORED.recipient_email, "other@contoso.com"}


def test_a_badge_moved_to_another_email_is_written_there_and_removed_here() -> None:
    moved = make_badge(recipient_email="other@contoso.com", updated_at=LATER)

    plan = plan_refresh([STORED], moved)

    assert (plan.write, plan.remove) == (moved, (STORED,))
    assert plan.emails == {STORED.recipient_email, "other@contoso.com"}


def test_a_state_older_than_the_stored_one_changes_nothing() -> None:
    newer = make_badge(state="revoked", updated_at=LATER)

    plan = plan_refresh([newer], STORED)

    assert plan.stale
    assert not plan.changes


def test_without_update_times_the_current_state_wins() -> None:
    stored = make_badge(updated_at=None, state="pending")
    current = make_badge(updated_at=None)

    assert plan_refresh([stored], current).write == current


EVENT_DATA = {
    "id": "ev-1",
    "organization_id": ORG_ID.upper(),
    "event_type": "badge.created",
    "badge": {"id": "b-1"},
}


def test_confirm_event_reads_the_type_and_the_badge_credly_names() -> None:
    event = confirm_event(EVENT_DATA, "ev-1", ORG_ID)

    assert (event.event_type, event.badge_id) == ("badge.created", "b-1")
    assert confirm_event({**EVENT_DATA, "badge": None}, "ev-1", ORG_ID).badge_id is None
    assert confirm_event({**EVENT_DATA, "badge": {"id": "a/b"}}, "ev-1", ORG_ID).badge_id is None


@pytest.mark.parametrize(
    "wrong", [{"id": "ev-2"}, {"organization_id": "another-org"}, {"event_type": None}]
)
def test_confirm_event_refuses_another_event_or_organisation(wrong: dict[str, Any]) -> None:
    with pytest.raises(BadDataError):
        confirm_event({**EVENT_DATA, **wrong}, "ev-1", ORG_ID)


def test_event_messages_round_trip() -> None:
    message = EventMessage("ev-1", ORG_ID, "badge.created", "2026-01-01T00:00:00Z", "now")

    assert decode_event(encode_event(message)) == message
