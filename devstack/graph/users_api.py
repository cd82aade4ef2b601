"""The directory route the connector reads: `/users/delta`, paged, with delta links that expire.

Users are read live from the `Directory`. Paging state travels in opaque tokens bound to this
stand-in instance: a delta round's `$skiptoken` carries the change sequence range it covers and
its offset, a `$deltatoken` the sequence it follows, so a token older than the directory's
floor (or from another instance) answers 410 like Graph's.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any

from devstack.graph.directory import Directory, DirectoryUser
from devstack.graph.odata import context_url, service_root
from devstack.graph.rules.prefer import max_page_size
from devstack.graph.rules.problems import bad_request, names
from devstack.standin import HttpError, Request, Response

SYNC_STATE_NOT_FOUND = "SyncStateNotFound"
REQUEST_UNSUPPORTED_QUERY = "Request_UnsupportedQuery"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
USER_SELECTABLE = names(
    "id displayName givenName surname userPrincipalName mail proxyAddresses otherMails "
    "accountEnabled assignedLicenses assignedPlans jobTitle department"
)
"""The user properties a `$select` may name (those `DirectoryUser.to_graph` answers)."""
DEFAULT_USER_PROPERTIES = (
    *("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone"),
    *("officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"),
)
"""What Graph answers for a user when no `$select` is given."""


def parse_select(text: str | None) -> list[str]:
    """The properties of a `$select` list (empty when absent); 400 for an unknown one."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    for name in names:
        if name not in USER_SELECTABLE:
            raise bad_request(
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.user'."
            )
    return names


def project_user(user: DirectoryUser, select: list[str]) -> dict[str, Any]:
    """A user as Graph answers it: the selected properties, or the default set when none."""
    data = user.to_graph()
    data.update(businessPhones=[], mobilePhone=None, officeLocation=None, preferredLanguage=None)
    return {name: data.get(name) for name in select or DEFAULT_USER_PROPERTIES}


def _sync_lost() -> HttpError:
    return HttpError(
        410,
        "The delta token is expired or not valid. Restart the sync: call users/delta "
        "without a $deltatoken or $skiptoken and replace the local copy with its results.",
        SYNC_STATE_NOT_FOUND,
    )


class UsersApi:
    """The `/users/delta` handler over the tenant's directory."""

    def __init__(self, directory: Directory) -> None:
        """Serve `directory` (read on every request)."""
        self.directory = directory
        self._nonce = secrets.token_hex(4)

    def _encode(self, state: dict[str, Any]) -> str:
        raw = json.dumps({**state, "n": self._nonce}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def _decode(self, token: str, kind: str) -> dict[str, Any]:
        """The state a token of `kind` carries; 410 when malformed or not this instance's."""
        try:
            state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError):
            raise _sync_lost() from None
        if not isinstance(state, dict) or state.get("n") != self._nonce or state.get("k") != kind:
            raise _sync_lost()
        return state

    def users_delta(self, request: Request) -> Response:
        """`GET /users/delta`: pages of changes, ending with a `@odata.deltaLink`."""
        if request.arg("$top") is not None:
            raise HttpError(
                400,
                "The query parameter '$top' is not supported with delta; page size is set with "
                "'Prefer: odata.maxpagesize=N'.",
                REQUEST_UNSUPPORTED_QUERY,
            )
        round_ = self._delta_round(request)
        requested = max_page_size(request.header("prefer"))
        size = min(requested or round_.get("size") or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        changes = self.directory.changes_between(round_["after"], round_["upto"])
        if round_["full"]:
            changes = [c for c in changes if c.user is not None]
        offset, select = round_["o"], round_["select"]
        value = [
            {"id": c.user_id, "@removed": {"reason": "deleted"}}
            if c.user is None
            else {**project_user(c.user, select), "id": c.user_id}
            for c in changes[offset : offset + size]
        ]
        root = f"{service_root(request)}/users/delta"
        suffix = f"({','.join(select)})" if select else ""
        payload: dict[str, Any] = {"@odata.context": context_url(request, f"users{suffix}")}
        if offset + size < len(changes):
            token = self._encode({**round_, "o": offset + size, "size": size})
            payload["@odata.nextLink"] = f"{root}?$skiptoken={token}"
        else:
            token = self._encode({"k": "link", "after": round_["upto"], "select": select})
            payload["@odata.deltaLink"] = f"{root}?$deltatoken={token}"
        payload["value"] = value
        headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if requested else {}
        return Response.json(200, payload, headers)

    def _delta_round(self, request: Request) -> dict[str, Any]:
        """Where this delta page starts: after/upto sequence, offset, select, full or not."""
        skiptoken, deltatoken = request.arg("$skiptoken"), request.arg("$deltatoken")
        floor, upto = self.directory.floor, self.directory.seq
        if skiptoken is not None:
            state = self._decode(skiptoken, "page")
            if state["upto"] < floor:
                raise _sync_lost()
            return state
        if deltatoken is not None:
            state = self._decode(deltatoken, "link")
            if state["after"] < floor:
                raise _sync_lost()
            after, select, full = state["after"], state["select"], False
        else:
            select = parse_select(request.arg("$select"))
            if request.arg("$filter") is not None:
                raise HttpError(
                    400,
                    "The stand-in supports no $filter on users/delta.",
                    REQUEST_UNSUPPORTED_QUERY,
                )
            after, full = 0, True
        return {"k": "page", "full": full, "after": after, "upto": upto, "o": 0, "select": select}
