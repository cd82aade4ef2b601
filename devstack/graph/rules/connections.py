"""The rules for external connections: ids, names, content categories."""

from __future__ import annotations

from typing import Any

from devstack.graph.rules.problems import (
    Problem,
    bad_request,
    invalid,
    is_alphanumeric,
    names,
    require_object,
    unknown_fields,
)

MAX_NAME_LENGTH = 128
MIN_CONNECTION_ID, MAX_CONNECTION_ID = 3, 32
RESERVED_CONNECTION_IDS = frozenset(
    name.lower()
    for name in names(
        "None Directory Exchange ExchangeArchive LinkedIn Mailbox OneDriveBusiness SharePoint "
        "Teams Yammer Connectors TaskFabric PowerBI Assistant TopicEngine MSFT_All_Connectors"
    )
)
CONTENT_CATEGORIES = names(
    "uncategorized knowledgeBase wikis fileRepository qna crm dashboard people media email "
    "messaging meetingTranscripts taskManagement learningManagement"
)
PEOPLE = "people"
"""The content category of a people connection (its schema and items follow extra rules)."""

_CONNECTION_FIELDS = names(
    "id name description contentCategory connectorId activitySettings searchSettings configuration"
)


def check_connection_id(connection_id: Any) -> Problem | None:
    """The rules for an external connection id (length, characters, reserved names)."""
    if not isinstance(connection_id, str) or not connection_id:
        return invalid("The connection 'id' is required.")
    if not MIN_CONNECTION_ID <= len(connection_id) <= MAX_CONNECTION_ID:
        return invalid(
            f"The connection id '{connection_id}' must be between {MIN_CONNECTION_ID} and "
            f"{MAX_CONNECTION_ID} characters long."
        )
    if not is_alphanumeric(connection_id):
        return invalid(f"The connection id '{connection_id}' must be alphanumeric.")
    if connection_id.lower().startswith("microsoft"):
        return invalid(f"The connection id '{connection_id}' must not start with 'Microsoft'.")
    if connection_id.lower() in RESERVED_CONNECTION_IDS:
        return invalid(f"The connection id '{connection_id}' is a reserved name.")
    return None


def check_connection(body: Any) -> list[Problem]:
    """The rules for `POST /external/connections`."""
    if (problem := require_object(body, "externalConnection")) is not None:
        return [problem]
    problems = unknown_fields(body, _CONNECTION_FIELDS, "externalConnection")
    if (problem := check_connection_id(body.get("id"))) is not None:
        problems.append(problem)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(invalid("The connection 'name' is required."))
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(
            invalid(f"The connection 'name' must be at most {MAX_NAME_LENGTH} characters.")
        )
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(invalid("The connection 'description' must be a string."))
    category = body.get("contentCategory")
    if category is not None and category not in CONTENT_CATEGORIES:
        problems.append(
            bad_request(
                f"Invalid value '{category}' for enum "
                "'microsoft.graph.externalConnectors.contentCategory'."
            )
        )
    return problems
