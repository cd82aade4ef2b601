"""The directory snapshot: every Entra user as of the last users/delta round, and its link."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from credly_connector.directory import DirectoryChange, DirectoryUser
from credly_connector.stores.tables import Tables, dumps, loads, quote

ROLE = "directory"
USERS = "user"
STATE = "state"
DELTA_ROW = "delta"


@dataclass(frozen=True)
class DirectoryState:
    """Where the next users/delta round starts, and which snapshot version is stored.

    Attributes:
        delta_link: The stored deltaLink (None: the next round reads every user).
        version: Changes whenever the snapshot changed, so cached indexes can be reused.
        next_link: A round in progress: where its next page is read (a crawl's start that
            ran out of time goes on from here).
        round_of: The crawl whose start is reading that round.
        round_full: Whether that round reads every user (users it never lists are gone).
        round_fresh: Whether the snapshot was empty when that round began.
        round_changed: Whether that round changed the snapshot so far.
    """

    delta_link: str | None
    version: str
    next_link: str | None = None
    round_of: str = ""
    round_full: bool = False
    round_fresh: bool = False
    round_changed: bool = False


def _to_entity(user: DirectoryUser) -> dict[str, Any]:
    return {
        "PartitionKey": USERS,
        "RowKey": user.id,
        "upn": user.user_principal_name,
        "mail": user.mail or "",
        "proxies": dumps(list(user.proxy_addresses)),
        "enabled": user.account_enabled,
        "licensed": user.licensed,
    }


def _from_entity(entity: Any) -> DirectoryUser:
    return DirectoryUser(
        id=str(entity["RowKey"]),
        user_principal_name=str(entity.get("upn", "")),
        mail=str(entity.get("mail") or "") or None,
        proxy_addresses=tuple(loads(entity.get("proxies"), [])),
        account_enabled=bool(entity.get("enabled", True)),
        licensed=bool(entity.get("licensed", True)),
    )


class DirectoryStore:
    """Users in one partition; the delta state in another."""

    def __init__(self, tables: Tables) -> None:
        """Keep its rows in the connector's `tables`."""
        self._tables = tables
        self._table = tables.table(ROLE)

    def state(self) -> DirectoryState:
        """The stored delta link and snapshot version."""
        try:
            entity = self._table.get_entity(STATE, DELTA_ROW)
        except ResourceNotFoundError:
            return DirectoryState(None, "")
        return DirectoryState(
            str(entity.get("link") or "") or None,
            str(entity.get("version", "")),
            next_link=str(entity.get("next_link") or "") or None,
            round_of=str(entity.get("round_of", "")),
            round_full=bool(entity.get("round_full", False)),
            round_fresh=bool(entity.get("round_fresh", False)),
            round_changed=bool(entity.get("round_changed", False)),
        )

    def save_state(self, state: DirectoryState) -> None:
        """Store where the next round starts."""
        self._table.upsert_entity(
            {
                "PartitionKey": STATE,
                "RowKey": DELTA_ROW,
                "link": state.delta_link or "",
                "version": state.version,
                "next_link": state.next_link or "",
                "round_of": state.round_of,
                "round_full": state.round_full,
                "round_fresh": state.round_fresh,
                "round_changed": state.round_changed,
            },
            mode=UpdateMode.REPLACE,
        )

    def any_user(self) -> bool:
        """Whether the snapshot holds any user (one row read at most)."""
        query = f"PartitionKey eq {quote(USERS)}"
        found = self._table.query_entities(query, select=["RowKey"], results_per_page=1)
        return next(iter(found), None) is not None

    def users(self) -> list[DirectoryUser]:
        """Every user of the snapshot."""
        query = f"PartitionKey eq {quote(USERS)}"
        return [_from_entity(e) for e in self._table.query_entities(query)]

    def apply(self, changes: Iterable[DirectoryChange]) -> None:
        """Write changed users (in transactions) and delete removed ones."""
        upserts: list[dict[str, Any]] = []
        for change in changes:
            if change.user is None:
                self._table.delete_entity(USERS, change.user_id)
            else:
                upserts.append(_to_entity(change.user))
        self._tables.upsert_many(ROLE, upserts)
