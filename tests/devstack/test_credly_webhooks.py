"""The Credly stand-in's webhook deliveries over real loopback HTTP to a stand-in receiver."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from devstack.credly.records import AuthToken, CredlyData, Event, Organization
from devstack.credly.server import CredlyStandIn
from devstack.credly.webhook_rules import (
    WebhookRetryPolicy,
    WebhookTargetError,
    check_webhook_url,
    notification_payload,
)
from devstack.credly.webhooks import DeliveryState, WebhookDispatcher
from devstack.standin import Fault, FaultKind, Request, Response, StandInServer, route
from devstack.synthetic import Mutator, WorldSpec, build_world

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ORG_A = "0b5c5a8e-1111-4a4a-9a9a-00000000000a"
ORG_B = "0b5c5a8e-2222-4b4b-9b9b-00000000000b"
TOKEN_A = "token-a-read"
THIN_KEYS = {"id", "organization_id", "event_type", "occurred_at"}
FAST = WebhookRetryPolicy(
    first_delay_s=0.05, factor=2.0, max_delay_s=0.1, max_attempts=3, response_timeout_s=0.2
)


class Receiver:
    """A webhook receiver: a stand-in server that keeps every notification it answers."""

    def __init__(self) -> None:
        self.server = StandInServer(
            "webhook-receiver",
            [route("POST", "/hooks/{org}", "webhook", self._receive)],
            lambda status, code, message: {"error": {"code": code, "message": message}},
        )
        self.received: list[tuple[str, dict[str, Any], str | None]] = []
        self._lock = threading.Lock()

    def url(self, org: str) -> str:
        return f"{self.server.base_url}/hooks/{org}"

    def bodies(self, org: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [body for path_org, body, _ in self.received if org in (None, path_org)]

    def _receive(self, request: Request) -> Response:
        with self._lock:
            self.received.append(
                (request.params["org"], request.json(), request.header("Content-Type"))
            )
        return Response.empty(200)


class FakeClock:
    """The dispatcher's injectable monotonic clock; `sleep` advances it instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def wait_until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def event(event_id: str, org: str = ORG_A, minutes: int = 0, **fields: Any) -> Event:
    when = NOW + timedelta(minutes=minutes)
    return Event(event_id, org, fields.pop("event_type", "badge.state.changed"), when, **fields)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    built = Receiver()
    with built.server:
        yield built


@pytest.fixture
def data(receiver: Receiver) -> CredlyData:
    """Org A (webhook to the receiver) and org B (no webhook configured)."""
    store = CredlyData()
    token = AuthToken("tok-a", TOKEN_A, NOW - timedelta(days=1), None)
    store.add_org(Organization(ORG_A, "Org A", "org-a", NOW, webhook_url=receiver.url(ORG_A)))
    store.orgs[ORG_A].tokens.append(token)
    store.add_org(Organization(ORG_B, "Org B", "org-b", NOW))
    return store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def dispatcher_for(clock: FakeClock) -> Iterator[Callable[..., WebhookDispatcher]]:
    """Build dispatchers on the fake clock with the fast policy; stops them all afterwards."""
    built: list[WebhookDispatcher] = []

    def build(store: CredlyData, **options: Any) -> WebhookDispatcher:
        options.setdefault("policy", FAST)
        options.setdefault("clock", clock)
        dispatcher = WebhookDispatcher(store, **options)
        built.append(dispatcher)
        return dispatcher

    yield build
    for dispatcher in built:
        with contextlib.suppress(WebhookTargetError):  # tests that expect it check it
            dispatcher.stop()


# -- the notification ----------------------------------------------------------------------


def test_delivers_the_thin_payload_with_exactly_credlys_keys(
    data: CredlyData, receiver: Receiver, dispatcher_for: Callable[..., WebhookDispatcher]
) -> None:
    data.add_event(event("ev-1", badge_id="b1"))
    dispatcher = dispatcher_for(data)
    dispatcher.deliver_pending()
    assert (dispatcher.counters.delivered, dispatcher.counters.pending) == (1, 0)
    assert receiver.bodies() == [
        {
            "id": "ev-1",
            "organization_id": ORG_A,
            "event_type": "badge.state.changed",
            "occurred_at": "2024-06-01T12:00:00Z",
        }
    ]
    assert set(receiver.bodies()[0]) == THIN_KEYS
    assert receiver.received[0][2] == "application/json"


def test_payload_occurred_at_is_utc_whatever_the_event_timezone() -> None:
    plus_two = datetime(2024, 6, 1, 14, 30, 5, 123000, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2024, 6, 1, 12, 30, 5)  # noqa: DTZ001 - naive times are taken as UTC
    assert notification_payload(Event("e", ORG_A, "badge.created", plus_two))["occurred_at"] == (
        "2024-06-01T12:30:05Z"
    )
    assert notification_payload(Event("e", ORG_A, "badge.created", naive))["occurred_at"] == (
        "2024-06-01T12:30:05Z"
    )


def test_delivers_each_organisations_events_in_occurred_at_order(
    data: CredlyData, receiver: Receiver, dispatcher_for: Callable[..., WebhookDispatcher]
) -> None:
    data.orgs[ORG_B].webhook_url = receiver.url(ORG_B)
    for event_id, org, minutes in [
        ("a3", ORG_A, 3), ("b2", ORG_B, 2), ("a1", ORG_A, 1), ("b1", ORG_B, 1), ("a2", ORG_A, 2),
    ]:  # fmt: skip
        data.add_event(event(event_id, org, minutes))
    dispatcher = dispatcher_for(data)
    assert len(dispatcher.deliver_pending()) == 5
    assert dispatcher.counters.delivered == 5
    assert [b["id"] for b in receiver.bodies(ORG_A)] == ["a1", "a2", "a3"]
    assert [b["id"] for b in receiver.bodies(ORG_B)] == ["b1", "b2"]


# -- exactly once, retries, giving up ------------------------------------------------------


def test_an_event_answered_200_is_delivered_exactly_once(
    data: CredlyData,
    receiver: Receiver,
    clock: FakeClock,
    dispatcher_for: Callable[..., WebhookDispatcher],
) -> None:
    data.add_event(event("ev-1"))
    dispatcher = dispatcher_for(data)
    for _ in range(3):
        dispatcher.deliver_pending()
        clock.sleep(10)
    assert [b["id"] for b in receiver.bodies()] == ["ev-1"]
    assert dispatcher.state("ev-1") is DeliveryState.DELIVERED
    counters = dispatcher.counters
    assert (counters.delivered, counters.failed_attempts, counters.pending) == (1, 0, 0)


def test_a_500_is_retried_after_the_backoff_then_delivered(
    data: CredlyData,
    receiver: Receiver,
    clock: FakeClock,
    dispatcher_for: Callable[..., WebhookDispatcher],
) -> None:
    receiver.server.knobs.add_fault(Fault(FaultKind.STATUS, status=500, times=1))
    data.add_event(event("ev-1"))
    dispatcher = dispatcher_for(data)

    first = dispatcher.deliver_pending()
    assert [(a.attempt, a.status, a.delivered) for a in first] == [(1, 500, False)]
    assert (dispatcher.counters.failed_attempts, dispatcher.counters.pending) == (1, 1)
    assert dispatcher.deliver_pending() == []  # not due before the backoff

    clock.sleep(FAST.first_delay_s)
    second = dispatcher.deliver_pending()
    assert [(a.attempt, a.status, a.delivered) for a in second] == [(2, 200, True)]
    assert [b["id"] for b in receiver.bodies()] == ["ev-1"]
    assert [(a.attempt, a.status) for a in dispatcher.delivery_log()] == [(1, 500), (2, 200)]
    assert dispatcher.counters.delivered == 1


def test_no_answer_within_the_response_timeout_is_retried(
    data: CredlyData,
    receiver: Receiver,
    clock: FakeClock,
    dispatcher_for: Callable[..., WebhookDispatcher],
) -> None:
    policy = WebhookRetryPolicy(first_delay_s=0.05, max_attempts=3, response_timeout_s=0.1)
    hang = receiver.server.knobs.add_fault(Fault(FaultKind.HANG, hang_s=2.0, times=1))
    data.add_event(event("ev-1"))
    dispatcher = dispatcher_for(data, policy=policy)

    started = time.monotonic()
    first = dispatcher.deliver_pending()
    assert time.monotonic() - started < 0.5
    assert hang.fired == 1
    (attempt,) = first
    assert attempt.status is None
    assert attempt.error == "no answer within 0.1 s"
    assert dispatcher.state("ev-1") is DeliveryState.PENDING

    clock.sleep(policy.first_delay_s)
    assert [a.delivered for a in dispatcher.deliver_pending()] == [True]
    assert [b["id"] for b in receiver.bodies()] == ["ev-1"]


def test_a_refused_connection_is_a_failed_attempt(
    data: CredlyData, dispatcher_for: Callable[..., WebhookDispatcher]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    data.orgs[ORG_A].webhook_url = f"http://127.0.0.1:{free_port}/hooks"
    data.add_event(event("ev-1"))
    (attempt,) = dispatcher_for(data).deliver_pending()
    assert attempt.status is None
    assert attempt.error is not None
    assert attempt.error.startswith("ConnectionRefusedError")


def test_gives_up_after_max_attempts_with_growing_waits(
    data: CredlyData,
    receiver: Receiver,
    clock: FakeClock,
    dispatcher_for: Callable[..., WebhookDispatcher],
) -> None:
    receiver.server.knobs.add_fault(Fault(FaultKind.STATUS, status=503, times=None))
    data.add_event(event("ev-1"))
    dispatcher = dispatcher_for(data)

    attempts = dispatcher.deliver_pending()
    for failed in (1, 2):
        assert dispatcher.deliver_pending() == []  # not due before the backoff
        clock.sleep(FAST.delay_after(failed))
        attempts += dispatcher.deliver_pending()
    assert [(a.attempt, a.status) for a in attempts] == [(1, 503), (2, 503), (3, 503)]
    gaps = [round(b.at - a.at, 6) for a, b in itertools.pairwise(attempts)]
    assert gaps == [FAST.delay_after(1), FAST.delay_after(2)] == [0.05, 0.1]
    counters = dispatcher.counters
    assert (counters.gave_up, counters.failed_attempts, counters.pending) == (1, 3, 0)
    assert dispatcher.state("ev-1") is DeliveryState.GAVE_UP
    assert receiver.server.requests.count("webhook", "POST") == 3


# -- what is sent where --------------------------------------------------------------------


def test_events_of_an_organisation_without_webhook_url_are_never_sent(
    data: CredlyData, receiver: Receiver, dispatcher_for: Callable[..., WebhookDispatcher]
) -> None:
    data.add_event(event("early", ORG_B))
    dispatcher = dispatcher_for(data)
    assert dispatcher.deliver_pending() == []
    assert dispatcher.counters.dropped == 1
    assert dispatcher.state("early") is DeliveryState.DROPPED

    data.orgs[ORG_B].webhook_url = receiver.url(ORG_B)
    data.add_event(event("late", ORG_B, minutes=1))
    dispatcher.deliver_pending()
    assert [b["id"] for b in receiver.bodies()] == ["late"]
    assert dispatcher.state("early") is DeliveryState.DROPPED


def test_removing_the_webhook_url_drops_the_pending_retries(
    data: CredlyData,
    receiver: Receiver,
    clock: FakeClock,
    dispatcher_for: Callable[..., WebhookDispatcher],
) -> None:
    receiver.server.knobs.add_fault(Fault(FaultKind.STATUS, status=502, times=1))
    data.add_event(event("ev-1"))
    dispatcher = dispatcher_for(data)
    dispatcher.deliver_pending()
    assert dispatcher.counters.pending == 1

    data.orgs[ORG_A].webhook_url = None
    clock.sleep(10)
    assert dispatcher.deliver_pending() == []
    assert (dispatcher.counters.dropped, dispatcher.counters.pending) == (1, 0)
    assert dispatcher.state("ev-1") is DeliveryState.DROPPED


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hooks",
        "http://10.0.0.1/hooks",
        "http://localhost.example.com/hooks",
        "http://127.0.0.1.nip.io/hooks",
        "ftp://127.0.0.1/hooks",
        "http:///hooks",
        "http://127.0.0.1:port/hooks",
    ],
)
def test_only_loopback_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(WebhookTargetError):
        check_webhook_url(url)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/h", "https://localhost/h", "http://[::1]:9/h", "http://127.0.0.2/"],
)
def test_loopback_urls_are_accepted(url: str) -> None:
    assert check_webhook_url(url).geturl() == url


def test_a_non_loopback_webhook_url_is_refused_before_anything_is_sent(
    data: CredlyData, receiver: Receiver, dispatcher_for: Callable[..., WebhookDispatcher]
) -> None:
    data.orgs[ORG_B].webhook_url = "https://example.com/credly"
    data.add_event(event("ev-a", ORG_A))
    data.add_event(event("ev-b", ORG_B, minutes=1))
    dispatcher = dispatcher_for(data)
    with pytest.raises(WebhookTargetError, match=r"example\.com.*loopback"):
        dispatcher.deliver_pending()
    assert receiver.bodies() == []
    assert dispatcher.delivery_log() == []


def test_the_background_thread_stops_on_a_non_loopback_url_and_stop_raises_it(
    data: CredlyData, dispatcher_for: Callable[..., WebhookDispatcher]
) -> None:
    data.orgs[ORG_A].webhook_url = "http://192.0.2.1/credly"
    data.add_event(event("ev-a"))
    dispatcher = dispatcher_for(data, clock=time.monotonic).start()
    wait_until(lambda: not dispatcher.running)
    with pytest.raises(WebhookTargetError, match=r"192\.0\.2\.1"):
        dispatcher.stop()


# -- background mode -----------------------------------------------------------------------


def test_background_mode_delivers_a_mutations_event_and_stops_promptly(
    receiver: Receiver, dispatcher_for: Callable[..., WebhookDispatcher]
) -> None:
    world = build_world(WorldSpec(seed=11, badges=50))
    mutator = Mutator(world, 11)
    accepted = mutator.accept_pending()
    for org in world.credly.orgs.values():
        org.webhook_url = receiver.url(org.id)
    dispatcher = dispatcher_for(world.credly, clock=time.monotonic)

    with dispatcher:
        was_running = dispatcher.running
        wait_until(lambda: len(receiver.bodies()) == 1)
        revoked = mutator.revoke()  # recorded while the thread runs
        wait_until(lambda: len(receiver.bodies()) == 2)
        started = time.monotonic()
    assert time.monotonic() - started < 0.2
    assert was_running
    assert not dispatcher.running

    bodies = receiver.bodies()
    assert [b["id"] for b in bodies] == [*accepted.event_ids, *revoked.event_ids]
    first = world.credly.events[accepted.event_ids[0]]
    assert bodies[0]["organization_id"] == first.org_id
    assert bodies[0]["event_type"] == "badge.state.changed"
    assert dispatcher.counters.delivered == 2


def test_stop_aborts_an_attempt_in_flight_without_counting_it(
    data: CredlyData, receiver: Receiver, dispatcher_for: Callable[..., WebhookDispatcher]
) -> None:
    hang = receiver.server.knobs.add_fault(Fault(FaultKind.HANG, hang_s=5.0, times=1))
    policy = WebhookRetryPolicy(response_timeout_s=3.0)
    data.add_event(event("ev-1"))
    dispatcher = dispatcher_for(data, policy=policy, clock=time.monotonic).start()
    wait_until(lambda: hang.fired == 1)
    started = time.monotonic()
    dispatcher.stop()
    assert time.monotonic() - started < 0.3
    assert dispatcher.delivery_log() == []
    assert dispatcher.counters.pending == 1


# -- the policy ----------------------------------------------------------------------------


def test_backoff_grows_by_the_factor_up_to_the_cap() -> None:
    policy = WebhookRetryPolicy(first_delay_s=1, factor=3, max_delay_s=20, max_attempts=5)
    assert [policy.delay_after(n) for n in range(1, 5)] == [1, 3, 9, 20]


# -- the stand-in offers it ----------------------------------------------------------------


def test_the_standin_offers_a_dispatcher_whose_events_can_be_fetched(
    data: CredlyData, receiver: Receiver
) -> None:
    data.add_event(event("ev-1", event_type="badge.created"))
    with CredlyStandIn(data) as standin:
        assert standin.webhooks.data is data
        assert [a.delivered for a in standin.webhooks.deliver_pending()] == [True]
        (notified,) = receiver.bodies()
        org, event_id = notified["organization_id"], notified["id"]
        answer = requests.get(
            f"{standin.api_url}/organizations/{org}/events/{event_id}",
            auth=(TOKEN_A, ""),
            timeout=5,
        )
        assert answer.status_code == 200
        assert answer.json()["data"]["event_type"] == "badge.created"
        standin.webhooks.start()
    assert not standin.webhooks.running
