"""A whole synthetic organisation: both stand-ins' stores plus the ground truth behind them."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import datetime

from devstack.credly.records import CredlyData, IssuedBadge
from devstack.graph.directory import Directory
from devstack.synthetic.accounts import AddressBook
from devstack.synthetic.badges import issue_badges
from devstack.synthetic.catalogue import build_catalogue
from devstack.synthetic.draws import new_id, stream
from devstack.synthetic.people import Person, build_people
from devstack.synthetic.spec import WorldSpec


@dataclass(slots=True)
class World:
    """A generated organisation: what the Credly and Graph stand-ins serve, and the facts.

    The facts are raw (who is who, which address relates how); deciding which badges the
    connector should publish is left to the connector and to test oracles.

    Attributes:
        spec: The recipe the world was built from.
        tenant_id: The Entra tenant id.
        credly: The Credly stand-in's store.
        directory: The Graph stand-in's directory.
        people: Every person, by `Person.index`.
        org_ids: Ids of the Credly organisations the connector reads.
        partner_org_ids: Ids of co-issuing partner organisations.
        template_issuers: `issuer_org_ids` of each template's badges, by template id.
        addresses: Every address handed out so far (mutations claim new ones here).
        clock: The latest instant the world has seen; starts at `spec.now` and mutations
            advance it.
    """

    spec: WorldSpec
    tenant_id: str
    credly: CredlyData
    directory: Directory
    people: list[Person]
    org_ids: tuple[str, ...]
    partner_org_ids: tuple[str, ...]
    template_issuers: dict[str, tuple[str, ...]]
    addresses: AddressBook
    clock: datetime

    @property
    def licence_assigned_at(self) -> str:
        """The `assignedDateTime` of generated licences."""
        return self.spec.licence_assigned_at

    @property
    def badge_count(self) -> int:
        """Badges currently stored across the connector's organisations."""
        with self.credly.lock:
            return sum(len(self.credly.badges.get(org_id, {})) for org_id in self.org_ids)

    def find_badge(self, badge_id: str) -> IssuedBadge | None:
        """A badge by id, whichever organisation holds it, or None."""
        for org_id in self.org_ids:
            badge = self.credly.badge(org_id, badge_id)
            if badge is not None:
                return badge
        return None


def build_world(spec: WorldSpec) -> World:
    """Build a world from its recipe; the same spec always gives the same world.

    Each part draws from its own seeded stream, so e.g. adding templates does not reshuffle
    the people.
    """
    credly = CredlyData()
    directory = Directory()
    addresses = AddressBook()
    tenant_id = new_id(stream(spec.seed, "tenant"))
    # The build allocates hundreds of thousands of long-lived objects and no cycles: left on,
    # the cyclic collector rescans them over and over and nearly doubles the time at 200k.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        catalogue = build_catalogue(spec, stream(spec.seed, "catalogue"), credly)
        people, holders = build_people(
            spec, stream(spec.seed, "people"), directory, credly, addresses
        )
        badges = stream(spec.seed, "badges")
        issue_badges(spec, badges, credly, catalogue=catalogue, people=people, holders=holders)
    finally:
        if was_enabled:
            gc.enable()
    return World(
        spec=spec,
        tenant_id=tenant_id,
        credly=credly,
        directory=directory,
        people=people,
        org_ids=tuple(org.id for org in catalogue.orgs),
        partner_org_ids=tuple(org.id for org in catalogue.partners),
        template_issuers=catalogue.issuers,
        addresses=addresses,
        clock=spec.now,
    )
