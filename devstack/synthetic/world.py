"""A whole synthetic organisation: both stand-ins' stores plus the ground truth behind them."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from devstack.credly.records import CredlyData, IssuedBadge
from devstack.graph.directory import Directory
from devstack.synthetic.accounts import AddressBook
from devstack.synthetic.badges import issue_badges
from devstack.synthetic.catalogue import build_catalogue
from devstack.synthetic.draws import new_id, stream
from devstack.synthetic.people import PeopleBuilder, Person
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
        licence_assigned_at: The `assignedDateTime` of generated licences.
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
    licence_assigned_at: str
    clock: datetime

    @property
    def badge_count(self) -> int:
        """Badges currently stored across the connector's organisations."""
        with self.credly.lock:
            return sum(len(self.credly.badges.get(org_id, {})) for org_id in self.org_ids)

    def find_badge(self, badge_id: str) -> IssuedBadge | None:
        """A badge by id, whichever organisation holds it.

        Args:
            badge_id: The badge id.

        Returns:
            The stored badge, or None.
        """
        for org_id in self.org_ids:
            badge = self.credly.badge(org_id, badge_id)
            if badge is not None:
                return badge
        return None


def build_world(spec: WorldSpec) -> World:
    """Build a world from its recipe; the same spec always gives the same world.

    Each part draws from its own seeded stream, so e.g. adding templates does not reshuffle
    the people.

    Args:
        spec: Size, seed, clock and proportions.

    Returns:
        The world, with both stores filled.
    """
    credly = CredlyData()
    directory = Directory()
    addresses = AddressBook()
    tenant_id = new_id(stream(spec.seed, "tenant"))
    with _collector_paused():
        catalogue = build_catalogue(spec, stream(spec.seed, "catalogue"), credly)
        builder = PeopleBuilder(spec, stream(spec.seed, "people"), directory, credly, addresses)
        people, holders = builder.build()
        issue_badges(
            spec,
            stream(spec.seed, "badges"),
            credly,
            catalogue=catalogue,
            people=people,
            holders=holders,
        )
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
        licence_assigned_at=builder.assigned_at,
        clock=spec.now,
    )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building.

    The build allocates hundreds of thousands of long-lived objects and no cycles; left on,
    the collector rescans them over and over and nearly doubles the build time at 200k badges.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
