"""Shared fixtures: a synthetic Credly world, its stand-in, and a retry policy that never sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from credly_connector.credly import BadgePage, BadgeQuery, CredlyClient, TokenAuth
from credly_connector.retry import RetryPolicy
from devstack.credly.records import IssuedBadge
from devstack.credly.server import DEFAULT_TOKEN_LIFETIME_S, CredlyStandIn
from devstack.synthetic import World, WorldSpec, build_world

ATTEMPTS = 4


@dataclass
class Waits:
    """Records the waits a retry policy asks for; its clock moves only when it "sleeps"."""

    seconds: list[float] = field(default_factory=list)
    now: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.seconds.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def policy(self, attempts: int = ATTEMPTS) -> RetryPolicy:
        """A policy with deterministic backoff (0.5 s, 1 s, 2 s...) that records its waits."""
        return RetryPolicy(attempts=attempts, jitter=0.0, sleep=self.sleep, clock=self.clock)


@dataclass
class Requests:
    """Records what the client reports through `on_request`."""

    seen: list[tuple[str, int | None]] = field(default_factory=list)

    def __call__(self, label: str, status: int | None) -> None:
        self.seen.append((label, status))

    def statuses(self) -> list[int | None]:
        return [status for _, status in self.seen]


def walk_pages(client: CredlyClient, query: BadgeQuery, *, start: int = 1) -> Iterator[BadgePage]:
    """The list's pages from `start` until the last one, one request each, as consumed."""
    number = start
    while True:
        page = client.badge_page(number, query)
        yield page
        if page.current_page >= page.total_pages or not (page.badges or page.dropped):
            return
        number += 1


def new_world(seed: int = 11) -> World:
    """Two organisations of about 200 badges each (four or five pages each)."""
    return build_world(WorldSpec(seed=seed, badges=400, organisations=2, now=datetime.now(UTC)))


def org_token(world: World, org_index: int = 0) -> str:
    return world.credly.orgs[world.org_ids[org_index]].tokens[0].token


def org_badges(world: World, org_index: int = 0) -> list[IssuedBadge]:
    return world.credly.org_badges(world.org_ids[org_index])


@pytest.fixture(scope="module")
def world() -> World:
    """A world the tests of a module share; tests that change badges build their own."""
    return new_world()


@pytest.fixture(scope="module")
def running_standin(world: World) -> Iterator[CredlyStandIn]:
    with CredlyStandIn(world.credly) as credly:
        yield credly


@pytest.fixture
def credly(running_standin: CredlyStandIn) -> Iterator[CredlyStandIn]:
    """The module's stand-in, back to a clean state after each test."""
    yield running_standin
    running_standin.api.knobs.reset()
    running_standin.web.knobs.reset()
    running_standin.api.requests.clear()
    running_standin.web.requests.clear()
    running_standin.page_url_base = None
    running_standin.token_lifetime_s = DEFAULT_TOKEN_LIFETIME_S
    running_standin.revoke_access_tokens()


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def seen() -> Requests:
    return Requests()


@pytest.fixture
def client(credly: CredlyStandIn, world: World, waits: Waits, seen: Requests) -> CredlyClient:
    """A token-authenticated client of the first organisation with a recording retry policy."""
    return CredlyClient(
        credly.api_url,
        world.org_ids[0],
        TokenAuth(org_token(world)),
        retry=waits.policy(),
        timeout=(2.0, 5.0),
        on_request=seen,
    )
