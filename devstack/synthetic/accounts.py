"""Account material shared by the people generator and the mutator: addresses and licences."""

from __future__ import annotations

import random
from typing import Any

from devstack.synthetic.draws import pick
from devstack.synthetic.spec import TENANT_DOMAIN
from devstack.synthetic.vocabulary import PERSONAL_DOMAINS

E3_SKU_ID = "05e9a617-0261-4cee-bb44-138d3ef5d965"
E3_PLANS = (
    ("exchange", "efb87545-963c-4e0d-99df-69c6916d9eb0"),
    ("SharePoint", "5dbe027f-2339-4123-9542-606e4d348a72"),
    ("TeamspaceAPI", "57ff2da0-773e-42df-b2af-ffb7a2317929"),
)
"""(service, servicePlanId) of the Microsoft 365 E3 plans the generator assigns."""


class AddressBook:
    """Hands out unique lower-case addresses, so no two people ever share one."""

    def __init__(self) -> None:
        """A book with no address taken."""
        self._taken: set[str] = set()
        self._next: dict[str, int] = {}

    def claim(self, local: str, domain: str) -> str:
        """Reserve `local@domain`, or `local<n>@domain` with the first free number."""
        key = f"{local}@{domain}"
        n = self._next.get(key, 1)
        candidate = key if n == 1 else f"{local}{n}@{domain}"
        while candidate in self._taken:
            n += 1
            candidate = f"{local}{n}@{domain}"
        self._next[key] = n + 1
        self._taken.add(candidate)
        return candidate

    def personal(self, rng: random.Random, local: str) -> str:
        """Reserve an address at a consumer mail domain chosen by `rng`."""
        return self.claim(local, pick(rng, PERSONAL_DOMAINS))

    def alias(self, rng: random.Random, local: str) -> str:
        """Reserve a secondary address for `first.last`: a short form, or a legacy domain's."""
        first, _, last = local.partition(".")
        if rng.random() < 0.5:
            return self.claim(f"{first[:1]}{last}", TENANT_DOMAIN)
        return self.claim(local, "contoso-legacy.com")


def exchange_licence(
    assigned_at: str, *, status: str = "Enabled"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The (assignedLicenses, assignedPlans) of a Microsoft 365 E3 user.

    Args:
        assigned_at: ISO timestamp the plans were assigned.
        status: The Exchange plan's `capabilityStatus` (``"Suspended"`` means no mailbox).
    """
    plans: list[dict[str, Any]] = [
        {
            "assignedDateTime": assigned_at,
            "capabilityStatus": status if service == "exchange" else "Enabled",
            "service": service,
            "servicePlanId": plan_id,
        }
        for service, plan_id in E3_PLANS
    ]
    return [{"skuId": E3_SKU_ID, "disabledPlans": []}], plans
