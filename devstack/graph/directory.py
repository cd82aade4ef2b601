"""The Graph stand-in's Entra ID directory: users, and the change sequence behind `users/delta`.

Every change (add, update, remove) takes the next sequence number, so a delta round is "what
changed after sequence N": that is what the stand-in's delta tokens encode.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

EXCHANGE_PLAN_SERVICE = "exchange"


@dataclass(slots=True)
class DirectoryUser:
    """An Entra ID user with the properties the connector reads."""

    id: str
    display_name: str
    user_principal_name: str
    mail: str | None
    given_name: str | None = None
    surname: str | None = None
    proxy_addresses: list[str] = field(default_factory=list)
    other_mails: list[str] = field(default_factory=list)
    account_enabled: bool = True
    assigned_licenses: list[dict[str, Any]] = field(default_factory=list)
    assigned_plans: list[dict[str, Any]] = field(default_factory=list)
    job_title: str | None = None
    department: str | None = None

    def to_graph(self) -> dict[str, Any]:
        """The user as Graph returns it with every property selected."""
        return {
            "id": self.id,
            "displayName": self.display_name,
            "givenName": self.given_name,
            "surname": self.surname,
            "userPrincipalName": self.user_principal_name,
            "mail": self.mail,
            "proxyAddresses": list(self.proxy_addresses),
            "otherMails": list(self.other_mails),
            "accountEnabled": self.account_enabled,
            "assignedLicenses": [dict(x) for x in self.assigned_licenses],
            "assignedPlans": [dict(x) for x in self.assigned_plans],
            "jobTitle": self.job_title,
            "department": self.department,
        }

    @property
    def has_mailbox(self) -> bool:
        """Whether an enabled Exchange plan is assigned (the stand-in's mailbox signal)."""
        return any(
            p.get("service") == EXCHANGE_PLAN_SERVICE and p.get("capabilityStatus") == "Enabled"
            for p in self.assigned_plans
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One directory change: the user after it, or a removal."""

    seq: int
    user_id: str
    user: DirectoryUser | None


class Directory:
    """Thread-safe directory with a change sequence for delta queries."""

    def __init__(self) -> None:
        """An empty directory at sequence 0."""
        self._lock = threading.RLock()
        self._users: dict[str, DirectoryUser] = {}
        self._last_change: dict[str, Change] = {}
        self._seq = 0
        self._floor = 0

    @property
    def seq(self) -> int:
        """The sequence number of the latest change."""
        with self._lock:
            return self._seq

    @property
    def floor(self) -> int:
        """Delta tokens older than this sequence are expired (410 on use)."""
        with self._lock:
            return self._floor

    def upsert(self, user: DirectoryUser) -> DirectoryUser:
        """Add or replace a user (a copy is stored, so later edits need another upsert)."""
        with self._lock:
            self._seq += 1
            stored = copy.deepcopy(user)
            self._users[user.id] = stored
            self._last_change[user.id] = Change(self._seq, user.id, stored)
            return stored

    def remove(self, user_id: str) -> None:
        """Delete a user; later delta rounds report it as `@removed`."""
        with self._lock:
            if user_id not in self._users:
                raise KeyError(user_id)
            self._seq += 1
            del self._users[user_id]
            self._last_change[user_id] = Change(self._seq, user_id, None)

    def get(self, user_id: str) -> DirectoryUser | None:
        """A user by object id."""
        with self._lock:
            return self._users.get(user_id)

    def users(self) -> list[DirectoryUser]:
        """Every live user, ordered by id (stable paging order)."""
        with self._lock:
            return [self._users[k] for k in sorted(self._users)]

    def changes_between(self, after: int, upto: int) -> list[Change]:
        """The latest change of each user with `after < seq <= upto`, ordered by user id."""
        with self._lock:
            return sorted(
                (c for c in self._last_change.values() if after < c.seq <= upto),
                key=lambda c: c.user_id,
            )

    def expire_delta_tokens(self) -> None:
        """Make every delta token issued so far unusable (the service's sync-state loss)."""
        with self._lock:
            self._seq += 1
            self._floor = self._seq

    def __len__(self) -> int:
        """How many live users the directory holds."""
        with self._lock:
            return len(self._users)
