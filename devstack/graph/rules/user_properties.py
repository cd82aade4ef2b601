"""The user properties Graph lets a query name: filterable fields, `$select`, and projection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devstack.graph.directory import DirectoryUser
from devstack.graph.rules.problems import Problem, bad_request

USER_FIELDS: Mapping[str, str] = {
    "id": "id",
    "displayName": "display_name",
    "givenName": "given_name",
    "surname": "surname",
    "userPrincipalName": "user_principal_name",
    "mail": "mail",
    "accountEnabled": "account_enabled",
    "jobTitle": "job_title",
    "department": "department",
}
"""Filterable single-valued user properties: Graph name -> DirectoryUser attribute."""
USER_COLLECTIONS: Mapping[str, str] = {
    "proxyAddresses": "proxy_addresses",
    "otherMails": "other_mails",
}
"""Multi-valued user properties an `any` lambda may test: Graph name -> attribute."""
USER_SELECTABLE = frozenset({*USER_FIELDS, *USER_COLLECTIONS, "assignedLicenses", "assignedPlans"})
DEFAULT_USER_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
"""What Graph answers for a user when no `$select` is given."""


def parse_select(
    text: str | None, allowed: frozenset[str] = USER_SELECTABLE
) -> list[str] | Problem:
    """The properties of a `$select` list (None when absent -> empty list)."""
    if text is None:
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in allowed:
            return bad_request(
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.user'."
            )
    return names


def project_user(user: DirectoryUser, select: list[str]) -> dict[str, Any]:
    """A user as Graph answers it: the selected properties, or the default set when none."""
    data = user.to_graph()
    data.update(businessPhones=[], mobilePhone=None, officeLocation=None, preferredLanguage=None)
    return {name: data.get(name) for name in select or DEFAULT_USER_PROPERTIES}
