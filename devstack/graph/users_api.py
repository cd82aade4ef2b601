"""The directory routes: `/users` (by key, or listed with query options) and `/users/delta`.

Users are read live from the `Directory`. Paging state travels in opaque `PageTokens`: a users
list's `$skiptoken` carries its offset; a delta round's tokens carry the change sequence range
it covers, so a `$deltatoken` older than the directory's floor answers 410 like Graph's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from devstack.graph.directory import Directory, DirectoryUser
from devstack.graph.odata import accept, context_url, service_root
from devstack.graph.page_tokens import PageTokens
from devstack.graph.rules.prefer import max_page_size
from devstack.graph.rules.problems import BAD_REQUEST
from devstack.graph.rules.user_properties import parse_select, project_user
from devstack.graph.rules.users_query import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    REQUEST_UNSUPPORTED_QUERY,
    parse_users_query,
)
from devstack.standin import HttpError, Request, Response

SYNC_STATE_NOT_FOUND = "SyncStateNotFound"
RESOURCE_NOT_FOUND = "Request_ResourceNotFound"


def _users_context(request: Request, select: list[str]) -> str:
    suffix = f"({','.join(select)})" if select else ""
    return context_url(request, f"users{suffix}")


def _sync_lost() -> HttpError:
    return HttpError(
        410,
        "The delta token is expired or not valid. Restart the sync: call users/delta "
        "without a $deltatoken or $skiptoken and replace the local copy with its results.",
        SYNC_STATE_NOT_FOUND,
    )


class UsersApi:
    """Route handlers for `/users`, `/users/{id | userPrincipalName}` and `/users/delta`.

    Args:
        directory: The tenant's users (read on every request).
        tokens: Encodes and checks `$skiptoken` / `$deltatoken` values.
    """

    def __init__(self, directory: Directory, tokens: PageTokens | None = None) -> None:
        self.directory = directory
        self.tokens = tokens or PageTokens()

    # -- users -----------------------------------------------------------------------------

    def get_user(self, request: Request) -> Response:
        """`GET /users/{key}`: a user by object id or (case-insensitive) userPrincipalName."""
        select = accept(parse_select(request.arg("$select")))
        key = request.params["userKey"]
        user = self._find_user(key)
        if user is None:
            raise HttpError(
                404,
                f"Resource '{key}' does not exist or one of its queried reference-property "
                "objects are not present.",
                RESOURCE_NOT_FOUND,
            )
        context = f"{_users_context(request, select)}/$entity"
        return Response.json(200, {"@odata.context": context, **project_user(user, select)})

    def list_users(self, request: Request) -> Response:
        """`GET /users` with `$filter`, `$search`, `$select`, `$orderby`, `$top`, `$count`."""
        eventual = (request.header("consistencylevel") or "").lower() == "eventual"
        query = accept(parse_users_query(request.arg, eventual=eventual))
        users = [u for u in self.directory.users() if all(p(u) for p in query.predicates)]
        if query.orderby is not None:
            attribute, descending = query.orderby
            users.sort(key=lambda u: (getattr(u, attribute) or "").casefold(), reverse=descending)
        offset = self._users_offset(request.arg("$skiptoken"))
        end = offset + query.top
        payload: dict[str, Any] = {"@odata.context": _users_context(request, query.select)}
        if query.counting:
            payload["@odata.count"] = len(users)
        if end < len(users):
            payload["@odata.nextLink"] = self._users_next_link(request, end)
        payload["value"] = [project_user(u, query.select) for u in users[offset:end]]
        return Response.json(200, payload)

    def _find_user(self, key: str) -> DirectoryUser | None:
        user = self.directory.get(key)
        if user is not None:
            return user
        folded = key.casefold()
        return next(
            (u for u in self.directory.users() if u.user_principal_name.casefold() == folded),
            None,
        )

    def _users_offset(self, token: str | None) -> int:
        if token is None:
            return 0
        state = self.tokens.decode(token)
        if state is None or state.get("kind") != "users" or not isinstance(state.get("o"), int):
            raise HttpError(400, "The $skiptoken is invalid.", BAD_REQUEST)
        return int(state["o"])

    def _users_next_link(self, request: Request, offset: int) -> str:
        """The request's own URL with a `$skiptoken` for `offset` (other options kept)."""
        pairs = [(k, v) for k, values in request.query.items() for v in values if k != "$skiptoken"]
        pairs.append(("$skiptoken", self.tokens.encode({"kind": "users", "o": offset})))
        query = urlencode(pairs, quote_via=quote, safe="$,'()")
        return f"{service_root(request)}/users?{query}"

    # -- delta -----------------------------------------------------------------------------

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
        offset = round_["o"]
        select: list[str] = round_["select"]
        value: list[dict[str, Any]] = []
        for change in changes[offset : offset + size]:
            if change.user is None:
                value.append({"id": change.user_id, "@removed": {"reason": "deleted"}})
            else:
                value.append({**project_user(change.user, select), "id": change.user_id})
        root = f"{service_root(request)}/users/delta"
        payload: dict[str, Any] = {"@odata.context": _users_context(request, select)}
        if offset + size < len(changes):
            token = self.tokens.encode({**round_, "o": offset + size, "size": size})
            payload["@odata.nextLink"] = f"{root}?$skiptoken={token}"
        else:
            token = self.tokens.encode(
                {"kind": "deltalink", "after": round_["upto"], "select": select}
            )
            payload["@odata.deltaLink"] = f"{root}?$deltatoken={token}"
        payload["value"] = value
        headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if requested else {}
        return Response.json(200, payload, headers)

    def _delta_round(self, request: Request) -> dict[str, Any]:
        """Where this delta page starts: after/upto sequence, offset, select, full or not."""
        skiptoken, deltatoken = request.arg("$skiptoken"), request.arg("$deltatoken")
        floor = self.directory.floor
        if skiptoken is not None:
            state = self.tokens.decode(skiptoken)
            if state is None or state.get("kind") != "delta" or state["upto"] < floor:
                raise _sync_lost()
            return state
        if deltatoken is not None:
            state = self.tokens.decode(deltatoken)
            if state is None or state.get("kind") != "deltalink" or state["after"] < floor:
                raise _sync_lost()
            return {
                "kind": "delta",
                "full": False,
                "after": state["after"],
                "upto": self.directory.seq,
                "o": 0,
                "select": state["select"],
            }
        select = accept(parse_select(request.arg("$select")))
        if request.arg("$filter") is not None:
            raise HttpError(
                400, "The stand-in supports no $filter on users/delta.", REQUEST_UNSUPPORTED_QUERY
            )
        upto = self.directory.seq
        return {"kind": "delta", "full": True, "after": 0, "upto": upto, "o": 0, "select": select}
