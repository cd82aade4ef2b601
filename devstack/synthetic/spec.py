"""What a synthetic organisation looks like: its size, seed, clock and proportions."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=UTC)
BADGES_PER_PERSON = 2.5


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

    def __post_init__(self) -> None:
        """Refuse shares outside 0..1 and impossible combinations."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"proportion {f.name} must be within 0..1, got {value}")
        if self.expired + self.no_expiry > 1.0:
            raise ValueError("expired + no_expiry must not exceed 1")
        if self.pending + self.accepted + self.rejected + self.revoked <= 0.0:
            raise ValueError("at least one of pending/accepted/rejected/revoked must be > 0")


@dataclass(frozen=True, slots=True)
class WorldSpec:
    """The recipe of a synthetic organisation; the same spec always builds the same world.

    Attributes:
        seed: Seeds every draw.
        badges: Exact number of badges issued across the Credly organisations.
        people: People in the world (badge recipients and directory users); None means
            `badges / 2.5`, at least 1.
        organisations: Credly organisations the connector reads, each with its own token
            and OAuth application.
        partners: Partner organisations that co-issue some templates (named in
            `issuer_org_ids`, never read by the connector).
        templates_per_org: Badge templates each organisation owns.
        tenant_domain: The Microsoft 365 tenant's primary mail domain.
        now: The world's clock (timezone-aware); every initial timestamp is before it.
        history: How far back from `now` the first badge was issued.
        token_lifetime: Authorization tokens expire this long after `now`.
        proportions: Shares of each variety.
    """

    seed: int = 0
    badges: int = 1000
    people: int | None = None
    organisations: int = 1
    partners: int = 4
    templates_per_org: int = 30
    tenant_domain: str = "contoso.com"
    now: datetime = DEFAULT_NOW
    history: timedelta = timedelta(days=5 * 365)
    token_lifetime: timedelta = timedelta(days=150)
    proportions: Proportions = field(default_factory=Proportions)

    def __post_init__(self) -> None:
        """Refuse impossible sizes, clocks and domains."""
        if self.badges < 0:
            raise ValueError("badges must be >= 0")
        if self.people is not None and self.people < 1:
            raise ValueError("people must be >= 1")
        if self.organisations < 1 or self.templates_per_org < 1 or self.partners < 0:
            raise ValueError("need at least one organisation and one template per organisation")
        if self.now.tzinfo is None or self.now.utcoffset() != timedelta(0):
            raise ValueError("now must be a timezone-aware UTC datetime")
        if "." not in self.tenant_domain:
            raise ValueError("tenant_domain must be a domain name such as contoso.com")
        if self.history <= timedelta(0):
            raise ValueError("history must be positive")

    @property
    def people_count(self) -> int:
        """The number of people, resolving the default from the badge count."""
        if self.people is not None:
            return self.people
        return max(1, round(self.badges / BADGES_PER_PERSON))

    @property
    def initial_domain(self) -> str:
        """The tenant's `<stem>.onmicrosoft.com` domain used by differing UPNs."""
        return f"{self.tenant_domain.split('.', 1)[0]}.onmicrosoft.com"

    @property
    def licence_assigned_at(self) -> str:
        """The `assignedDateTime` of every generated licence: the start of the history."""
        return (self.now - self.history).strftime("%Y-%m-%dT%H:%M:%SZ")
