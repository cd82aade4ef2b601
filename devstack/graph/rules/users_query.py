"""A `/users` query as data: `$select`, `$filter`, `$search`, `$orderby`, `$top`, `$count`.

`parse_users_query` reads the query options of a users list and answers either the parsed
`UsersQuery` or the first `Problem`, in the order Graph reports them. It applies the
advanced-query rule: `ne`, `not`, `endsWith`, `$search`, `$orderby` with `$filter` and `$count`
need `ConsistencyLevel: eventual` *and* `$count=true`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.graph.rules.problems import Problem, bad_request
from devstack.graph.rules.user_filter import UserPredicate, all_of, any_of, parse_user_filter
from devstack.graph.rules.user_properties import USER_FIELDS, parse_select

REQUEST_UNSUPPORTED_QUERY = "Request_UnsupportedQuery"
ADVANCED_QUERY_HINT = "Refer to https://aka.ms/graph-docs/advanced-queries for more information"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999


@dataclass(frozen=True, slots=True)
class UsersQuery:
    """A users list query the service accepts.

    Attributes:
        select: The `$select`ed properties (empty: Graph's default set).
        predicates: The `$filter` and `$search` tests a user must pass.
        counting: Whether `$count=true` asked for `@odata.count`.
        orderby: The DirectoryUser attribute to sort on and whether descending, if any.
        top: The page size.
    """

    select: list[str]
    predicates: list[UserPredicate]
    counting: bool
    orderby: tuple[str, bool] | None
    top: int


def parse_users_query(arg: Callable[[str], str | None], *, eventual: bool) -> UsersQuery | Problem:
    """Parse a users list query.

    Args:
        arg: The first value of a query option by name (None when absent).
        eventual: Whether the request sent `ConsistencyLevel: eventual`.

    Returns:
        The query, or the first problem: `$select`, `$filter`, `$search`, the advanced-query
        rule, `$orderby`, then `$top`.
    """
    select = parse_select(arg("$select"))
    if isinstance(select, Problem):
        return select
    matching = _parse_matching(arg)
    if isinstance(matching, Problem):
        return matching
    predicates, construct = matching
    counting = (arg("$count") or "").lower() == "true"
    if construct is not None and not (eventual and counting):
        return advanced_query_problem(construct)
    orderby: tuple[str, bool] | Problem | None = None
    if ordering := arg("$orderby"):
        orderby = parse_orderby(ordering)
    top = parse_top(arg("$top"))
    if isinstance(orderby, Problem):
        return orderby
    if isinstance(top, Problem):
        return top
    return UsersQuery(select, predicates, counting, orderby, top)


def _parse_matching(
    arg: Callable[[str], str | None],
) -> tuple[list[UserPredicate], str | None] | Problem:
    """The `$filter` and `$search` predicates, and the first advanced construct the query uses."""
    predicates: list[UserPredicate] = []
    construct: str | None = None
    text = arg("$filter")
    if text is not None:
        parsed = parse_user_filter(text)
        if isinstance(parsed, Problem):
            return parsed
        predicates.append(parsed.predicate)
        construct = parsed.advanced
    search = arg("$search")
    if search is not None:
        searched = parse_search(search.strip())
        if isinstance(searched, Problem):
            return searched
        predicates.append(searched)
        construct = construct or "$search"
    if arg("$orderby") and text is not None:
        construct = construct or "$orderby with $filter"
    if arg("$count") is not None:
        construct = construct or "$count"
    return predicates, construct


def parse_search(text: str) -> UserPredicate | Problem:
    """A users `$search` (`"property:value"` clauses joined by AND/OR) as a predicate."""
    clauses = re.split(r"\s+(AND|OR)\s+", text.strip())
    predicate: UserPredicate | None = None
    operator = "OR"
    for index, clause in enumerate(clauses):
        if index % 2 == 1:
            operator = clause
            continue
        found = re.fullmatch(r'"(\w+):([^"]*)"', clause)
        if found is None or found.group(1) not in USER_FIELDS:
            return bad_request(f"Invalid $search clause: {clause}")
        test = _contains(USER_FIELDS[found.group(1)], found.group(2).casefold())
        if predicate is None:
            predicate = test
        elif operator == "AND":
            predicate = all_of([predicate, test])
        else:
            predicate = any_of([predicate, test])
    return predicate if predicate is not None else bad_request("Empty $search.")


def parse_orderby(text: str) -> tuple[str, bool] | Problem:
    """A users `$orderby` (`property [asc|desc]`) as (DirectoryUser attribute, descending)."""
    parts = text.split()
    if not parts or len(parts) > 2 or parts[0] not in USER_FIELDS:
        return bad_request(f"Invalid $orderby: {text}")
    direction = parts[1].lower() if len(parts) == 2 else "asc"
    if direction not in ("asc", "desc"):
        return bad_request(f"Invalid $orderby direction: {parts[1]}")
    return USER_FIELDS[parts[0]], direction == "desc"


def parse_top(text: str | None) -> int | Problem:
    """A users `$top` page size (1 to 999; the default when absent)."""
    if text is None:
        return DEFAULT_PAGE_SIZE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        return Problem(
            400,
            REQUEST_UNSUPPORTED_QUERY,
            f"Invalid page size specified: '{text}'. Must be between 1 and "
            f"{MAX_PAGE_SIZE} inclusive.",
        )
    return int(text)


def advanced_query_problem(construct: str) -> Problem:
    """The refusal of an advanced construct sent without `ConsistencyLevel: eventual`."""
    return Problem(
        400,
        REQUEST_UNSUPPORTED_QUERY,
        f"Operator '{construct}' is not supported because the 'ConsistencyLevel:eventual' "
        f"header is missing or $count=true is not set. {ADVANCED_QUERY_HINT}",
    )


def _contains(attribute: str, needle: str) -> UserPredicate:
    """Whether a user's string `attribute` contains `needle` (already case-folded)."""

    def test(user: Any) -> bool:
        value = getattr(user, attribute)
        return isinstance(value, str) and needle in value.casefold()

    return test
