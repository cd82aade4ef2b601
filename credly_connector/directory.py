"""The Entra ID directory as the connector sees it: users and their changes from users/delta."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """One Entra ID user, with only what identity matching and eligibility need.

    Attributes:
        id: The Entra object id (a GUID string).
        user_principal_name: The UPN, as Graph returns it.
        mail: The primary SMTP address, or None.
        proxy_addresses: `proxyAddresses` entries as Graph returns them (`SMTP:`/`smtp:`...).
        account_enabled: `accountEnabled`.
        licensed: Whether `assignedLicenses` is non-empty.
    """

    id: str
    user_principal_name: str
    mail: str | None = None
    proxy_addresses: tuple[str, ...] = ()
    account_enabled: bool = True
    licensed: bool = True


@dataclass(frozen=True, slots=True)
class DirectoryChange:
    """One entry of a users/delta page: the user as it is now, or None when removed."""

    user_id: str
    user: DirectoryUser | None
