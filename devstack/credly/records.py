"""The Credly stand-in's data: organisations, credentials, templates, earners, issued badges.

Records are compact (slots) so 200,000 badges fit comfortably in memory; the full JSON the
API returns is rendered per request by `devstack.credly.render`. `CredlyData` is the one
thread-safe store the server reads and the synthetic generator and tests write.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

BADGE_STATES = ("pending", "accepted", "rejected", "revoked", "replaced")
T = TypeVar("T")


@dataclass(slots=True)
class AuthToken:
    """An organisation authorization token (HTTP Basic user name, empty password)."""

    id: str
    token: str
    created_at: datetime
    expires_at: datetime | None
    description: str = "Microsoft 365 connector"
    read_enabled: bool = True
    write_enabled: bool = False
    delete_enabled: bool = False


@dataclass(slots=True)
class OAuthApp:
    """An OAuth application of an organisation (client credentials grant)."""

    id: str
    client_id: str
    client_secret: str
    name: str = "Microsoft 365 connector"
    scopes: tuple[str, ...] = ("issued_badges", "badge_templates", "events")


@dataclass(slots=True)
class Organization:
    """A Credly organisation with its credentials."""

    id: str
    name: str
    vanity_slug: str
    created_at: datetime
    website_url: str | None = None
    contact_email: str | None = None
    webhook_url: str | None = None
    tokens: list[AuthToken] = field(default_factory=list)
    oauth_apps: list[OAuthApp] = field(default_factory=list)


@dataclass(slots=True)
class BadgeTemplate:
    """A badge template; `skills` holds plain strings or `{id, name, vanity_slug}` objects."""

    id: str
    owner_org_id: str
    name: str
    description: str
    certification: bool
    skills: list[Any]
    vanity_slug: str
    image_id: str
    created_at: datetime
    level: str | None = None
    type_category: str | None = None
    time_to_earn: str | None = None
    allow_duplicate_badges: bool = False
    state: str = "active"


@dataclass(slots=True)
class CredlyUser:
    """An earner's Credly account; its email may differ from the badge's recipient email."""

    id: str
    email: str
    first_name: str
    last_name: str
    vanity_slug: str
    confirmed: bool = True


@dataclass(slots=True)
class IssuedBadge:
    """One badge issued by an organisation.

    `issuer_org_ids` lists the issuing entities, the first being primary. `overrides` is
    merged over the rendered JSON (None values included), so tests can serve broken or
    hostile badges exactly as they want them.
    """

    id: str
    org_id: str
    template_id: str
    recipient_email: str
    issued_to_first_name: str
    issued_to_last_name: str
    user_id: str | None
    state: str
    public: bool
    issued_at: datetime
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    state_updated_at: datetime
    accepted_at: datetime | None = None
    replaces_badge_id: str | None = None
    replacement_badge_id: str | None = None
    revocation_reason: str | None = None
    issuer_earner_id: str | None = None
    locale: str = "en"
    issuer_org_ids: tuple[str, ...] = ()
    overrides: dict[str, Any] | None = None


@dataclass(slots=True)
class Event:
    """A webhook event; `GET .../events/{id}` returns it with the badge it concerns."""

    id: str
    org_id: str
    event_type: str
    occurred_at: datetime
    badge_id: str | None = None


class CredlyData:
    """Thread-safe store of everything the Credly stand-in serves.

    Badges are kept per organisation in issue order (insertion order), which is also the
    stand-in's tie-breaker when sorting. `version` grows with every change made through these
    methods; the server caches sorted and filtered badge lists against it, so code that edits
    a record in place must call `touch()` afterwards.
    """

    def __init__(self) -> None:
        """An empty store."""
        self.lock = threading.RLock()
        self.version = 0
        self.orgs: dict[str, Organization] = {}
        self.templates: dict[str, BadgeTemplate] = {}
        self.users: dict[str, CredlyUser] = {}
        self.badges: dict[str, dict[str, IssuedBadge]] = {}
        self.events: dict[str, Event] = {}

    def add_org(self, org: Organization) -> Organization:
        """Register an organisation (replacing one with the same id)."""
        with self.lock:
            self.badges.setdefault(org.id, {})
            return self._put(self.orgs, org.id, org)

    def add_template(self, template: BadgeTemplate) -> BadgeTemplate:
        """Register a badge template."""
        return self._put(self.templates, template.id, template)

    def add_user(self, user: CredlyUser) -> CredlyUser:
        """Register an earner account."""
        return self._put(self.users, user.id, user)

    def add_event(self, event: Event) -> Event:
        """Record a webhook event."""
        return self._put(self.events, event.id, event)

    def put_badge(self, badge: IssuedBadge) -> IssuedBadge:
        """Insert or replace a badge of its organisation."""
        with self.lock:
            if badge.org_id not in self.orgs:
                raise KeyError(f"unknown organisation {badge.org_id}")
            return self._put(self.badges[badge.org_id], badge.id, badge)

    def remove_badge(self, org_id: str, badge_id: str) -> IssuedBadge | None:
        """Delete a badge of an organisation; the removed record, or None when absent."""
        with self.lock:
            removed = self.badges.get(org_id, {}).pop(badge_id, None)
            self.version += 1
            return removed

    def touch(self) -> None:
        """Record that a record was edited in place (invalidates the server's caches)."""
        with self.lock:
            self.version += 1

    def badge(self, org_id: str, badge_id: str) -> IssuedBadge | None:
        """One badge of an organisation, or None."""
        with self.lock:
            return self.badges.get(org_id, {}).get(badge_id)

    def org_badges(self, org_id: str) -> list[IssuedBadge]:
        """A snapshot list of an organisation's badges in issue order."""
        with self.lock:
            return list(self.badges.get(org_id, {}).values())

    def iter_all_badges(self) -> Iterator[IssuedBadge]:
        """Every badge of every organisation (snapshot)."""
        with self.lock:
            snapshot = [b for per_org in self.badges.values() for b in per_org.values()]
        return iter(snapshot)

    def find_token(self, token: str) -> tuple[Organization, AuthToken] | None:
        """The organisation and token record for an authorization token string."""
        with self.lock:
            found = ((o, t) for o in self.orgs.values() for t in o.tokens)
            return next(((o, t) for o, t in found if t.token == token), None)

    def find_oauth_app(self, client_id: str) -> tuple[Organization, OAuthApp] | None:
        """The organisation and OAuth application for a client id."""
        with self.lock:
            found = ((o, a) for o in self.orgs.values() for a in o.oauth_apps)
            return next(((o, a) for o, a in found if a.client_id == client_id), None)

    def _put(self, table: dict[str, T], key: str, record: T) -> T:
        with self.lock:
            table[key] = record
            self.version += 1
            return record
