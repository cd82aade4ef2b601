"""What a synthetic organisation looks like: its size, seed and clock, and the fixed shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=UTC)
BADGES_PER_PERSON = 2.5
TENANT_DOMAIN = "contoso.com"
"""The tenant's primary mail domain."""
INITIAL_DOMAIN = "contoso.onmicrosoft.com"
"""The tenant's initial domain, used by UPNs that differ from the mail."""
PARTNERS = 4
"""Partner organisations that co-issue some templates (never read by the connector)."""
TEMPLATES_PER_ORG = 30
HISTORY = timedelta(days=5 * 365)
"""How far back from `now` the first badge was issued."""


@dataclass(frozen=True, slots=True)
class Proportions:
    """Shares (0..1) of each variety; each is an expected share, drawn per record.

    Person shares apply to people, badge shares to badges, template shares to templates.
    """

    no_directory: float = 0.08
    """Recipients with a personal or partner address and no directory user."""
    directory_only: float = 0.03
    """Directory users who hold no badge at all."""
    disabled: float = 0.05
    """Directory users with `accountEnabled` false."""
    unlicensed: float = 0.05
    """Directory users without an enabled Exchange plan (no licence or a suspended one)."""
    upn_differs: float = 0.15
    """Directory users whose UPN (`flast@<tenant>.onmicrosoft.com`) differs from their mail."""
    credly_uses_upn: float = 0.3
    """Of those whose UPN differs, the share whose Credly email is the UPN, not the mail."""
    proxy_alias: float = 0.10
    """Directory users whose Credly email is an `smtp:` alias found only in proxyAddresses."""
    other_mail: float = 0.02
    """Directory users whose Credly email is found only in otherMails."""
    mixed_case: float = 0.10
    """People whose Credly email differs in case from the directory's value."""
    no_credly_account: float = 0.05
    """Badge holders without a Credly account: their badges are pending with no user."""
    pending: float = 0.12
    accepted: float = 0.70
    rejected: float = 0.05
    revoked: float = 0.08
    replaced: float = 0.05
    private: float = 0.10
    """Badges with `public` false."""
    expired: float = 0.15
    """Badges whose `expires_at` is before the world's clock."""
    no_expiry: float = 0.40
    """Badges with `expires_at` null."""
    certification: float = 0.60
    """Templates with `certification` true."""
    partner_issued: float = 0.40
    """Templates whose badges name a partner organisation among the issuers."""
    skill_objects: float = 0.50
    """Templates whose skills are `{id, name, vanity_slug}` objects rather than strings."""


SHARES = Proportions()
"""The shares every world is built with."""


@dataclass(frozen=True, slots=True)
class WorldSpec:
    """The recipe of a synthetic organisation; the same spec always builds the same world.

    Attributes:
        seed: Seeds every draw.
        badges: Exact number of badges issued across the Credly organisations (about 2.5
            per person).
        organisations: Credly organisations the connector reads, each with its own token
            and OAuth application.
        now: The world's clock (timezone-aware); every initial timestamp is before it.
        token_lifetime: Authorization tokens expire this long after `now`.
    """

    seed: int = 0
    badges: int = 1000
    organisations: int = 1
    now: datetime = DEFAULT_NOW
    token_lifetime: timedelta = timedelta(days=150)

    def __post_init__(self) -> None:
        """Refuse impossible sizes and clocks."""
        if self.badges < 0:
            raise ValueError("badges must be >= 0")
        if self.organisations < 1:
            raise ValueError("need at least one organisation")
        if self.now.tzinfo is None or self.now.utcoffset() != timedelta(0):
            raise ValueError("now must be a timezone-aware UTC datetime")

    @property
    def people_count(self) -> int:
        """The number of people: the badge count divided by 2.5, at least 1."""
        return max(1, round(self.badges / BADGES_PER_PERSON))

    @property
    def history_start(self) -> datetime:
        """When the first badge could be issued: `HISTORY` before `now`."""
        return self.now - HISTORY

    @property
    def licence_assigned_at(self) -> str:
        """The `assignedDateTime` of every generated licence: the start of the history."""
        return self.history_start.strftime("%Y-%m-%dT%H:%M:%SZ")
