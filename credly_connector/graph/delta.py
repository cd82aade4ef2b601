"""users/delta answers as the connector's directory changes: pages, links, removals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from credly_connector.directory import DirectoryChange, DirectoryUser

USER_SELECT = (
    "id",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "accountEnabled",
    "assignedLicenses",
)
"""What the first delta call selects: identity matching and eligibility need no more."""
DEFAULT_DELTA_PAGE_SIZE = 200
"""`Prefer: odata.maxpagesize` for users/delta (Graph caps user pages at about 200)."""


@dataclass(frozen=True, slots=True)
class DeltaPage:
    """One users/delta page: its changes, and the link to the next page or the next round."""

    changes: list[DirectoryChange]
    next_link: str | None
    delta_link: str | None


def directory_change(raw: Mapping[str, Any]) -> DirectoryChange:
    """A users/delta entry as a change: `@removed` entries become removals."""
    user_id = str(raw["id"])
    if "@removed" in raw:
        return DirectoryChange(user_id, None)
    user = DirectoryUser(
        id=user_id,
        user_principal_name=str(raw.get("userPrincipalName") or ""),
        mail=raw.get("mail") or None,
        proxy_addresses=tuple(str(a) for a in raw.get("proxyAddresses") or ()),
        account_enabled=raw.get("accountEnabled") is not False,
        licensed=bool(raw.get("assignedLicenses")),
    )
    return DirectoryChange(user_id, user)


def delta_page(payload: Mapping[str, Any]) -> DeltaPage:
    """A users/delta answer body as a `DeltaPage`."""
    return DeltaPage(
        changes=[directory_change(raw) for raw in payload.get("value") or ()],
        next_link=payload.get("@odata.nextLink"),
        delta_link=payload.get("@odata.deltaLink"),
    )
