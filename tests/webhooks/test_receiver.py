"""`POST /api/credly/events` through the functions host: key, shape, organisation, queue."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from credly_connector.ops.webhooks import receive_event
from credly_connector.pipeline.events import decode_event
from credly_connector.pipeline.queues import EVENTS
from devstack.azurite import Azurite
from tests.webhooks.conftest import KEY, WebhookStack, build_stack

UNKNOWN_ORG = "9d1f3c2e-7a6b-4c5d-8e9f-0a1b2c3d4e5f"


@pytest.fixture(scope="module")
def module_stack(azurite: Azurite) -> Iterator[WebhookStack]:
    """One small stack for the module: these tests only read the route's answer and queue."""
    with ExitStack() as stacks:
        yield build_stack(stacks, azurite, badges=20, seed=31)


@pytest.fixture
def receiver(module_stack: WebhookStack) -> WebhookStack:
    module_stack.ctx.queues.client(EVENTS).clear_messages()
    return module_stack


def notification(stack: WebhookStack, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "4f6c2a8e-1b3d-4e5f-9a7b-8c9d0e1f2a3b",
        "organization_id": stack.org,
        "event_type": "badge.state.changed",
        "occurred_at": "2026-05-04T10:11:12Z",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def test_a_notification_is_queued_and_answered_200(receiver: WebhookStack) -> None:
    answer = receiver.post(notification(receiver, x_added_later={"field": 1}))

    assert answer.status_code == 200
    assert answer.json() == {"status": "queued", "id": "4f6c2a8e-1b3d-4e5f-9a7b-8c9d0e1f2a3b"}
    (message,) = receiver.ctx.queues.client(EVENTS).peek_messages(max_messages=32)
    queued = decode_event(message.content)
    assert (queued.event_id, queued.organization_id) == (
        "4f6c2a8e-1b3d-4e5f-9a7b-8c9d0e1f2a3b",
        receiver.org,
    )
    assert queued.received_at
    assert "x_added_later" not in message.content


def test_the_organisation_id_matches_ignoring_case(receiver: WebhookStack) -> None:
    answer = receiver.post(notification(receiver, organization_id=receiver.org.upper()))

    assert answer.status_code == 200
    (message,) = receiver.ctx.queues.client(EVENTS).peek_messages(max_messages=32)
    assert decode_event(message.content).organization_id == receiver.org


def test_the_key_may_travel_in_the_functions_key_header(receiver: WebhookStack) -> None:
    answer = receiver.post(
        notification(receiver), url=receiver.events_url(key=None), headers={"x-functions-key": KEY}
    )

    assert answer.status_code == 200
    assert receiver.queued() == 1


@pytest.mark.parametrize("key", [None, "", "not-the-key", KEY + "x"])
def test_without_the_function_key_nothing_is_queued(receiver: WebhookStack, key: str) -> None:
    answer = receiver.post(notification(receiver), url=receiver.events_url(key=key))

    assert answer.status_code == 401
    assert receiver.queued() == 0


def test_an_unknown_organisation_gets_200_ignored_and_nothing_is_queued(
    receiver: WebhookStack,
) -> None:
    answer = receiver.post(notification(receiver, organization_id=UNKNOWN_ORG))

    # Credly retries anything but a 200 for up to 25 days; this one can never succeed.
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"
    assert UNKNOWN_ORG in answer.json()["reason"]
    assert receiver.queued() == 0


def test_an_unknown_organisation_logs_an_ignored_line(
    receiver: WebhookStack, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(notification(receiver, organization_id=UNKNOWN_ORG)).encode()

    with caplog.at_level(logging.INFO, logger="credly_connector.ops.webhooks"):
        answer = receive_event(receiver.ctx, body)

    assert isinstance(answer.body, dict)
    assert (answer.status, answer.body["status"]) == (200, "ignored")
    (line,) = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert UNKNOWN_ORG in line
    assert "4f6c2a8e-1b3d-4e5f-9a7b-8c9d0e1f2a3b" in line
    assert receiver.queued() == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b'["an", "array"]', 400),
        (b'"a string"', 400),
        ({"id": 42}, 400),
        ({"organization_id": None}, 400),
        ({"event_type": ["badge.created"]}, 400),
        ({"occurred_at": "yesterday"}, 400),
        ({"occurred_at": ...}, 400),
        ({"id": ...}, 400),
        ({"id": "../../badges/x"}, 400),
        ({"id": ""}, 400),
        ({"event_type": "x" * 129}, 400),
        ({"padding": "x" * (1024 * 1024)}, 413),
    ],
    ids=[
        "malformed",
        "empty",
        "array",
        "string",
        "id-number",
        "org-null",
        "type-list",
        "bad-time",
        "no-time",
        "no-id",
        "id-path",
        "id-empty",
        "type-long",
        "over-1MB",
    ],
)
def test_a_malformed_notification_gets_4xx_and_nothing_is_queued(
    receiver: WebhookStack, body: bytes | dict[str, Any], status: int
) -> None:
    sent = body if isinstance(body, bytes) else json.dumps(notification(receiver, **body)).encode()

    answer = receiver.post(sent)

    assert answer.status_code == status
    assert answer.json()["error"]["message"]
    assert receiver.queued() == 0
