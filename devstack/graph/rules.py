"""The Graph stand-in's validation rules, as pure functions that return typed problems.

Each `check_*` function looks at one request body (already parsed from JSON) and returns the
problems the real service would answer with, first problem first; an empty list means the body
is accepted. Nothing here does I/O or holds state, so the rules are tested with plain values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

INVALID_REQUEST = "InvalidRequest"
BAD_REQUEST = "BadRequest"
UPDATE_NOT_ALLOWED = "UpdateNotAllowed"
ENTITY_TOO_LARGE = "RequestEntityTooLarge"

EXTERNAL_ITEM_BASE_TYPE = "microsoft.graph.externalItem"
MAX_NAME_LENGTH = 128
MIN_CONNECTION_ID, MAX_CONNECTION_ID = 3, 32
MAX_SCHEMA_PROPERTIES = 128
MAX_PROPERTY_NAME = 32
MAX_PROPERTY_DESCRIPTION = 200
MAX_ITEM_ID = 128
MAX_ITEM_BYTES = 4 * 1024 * 1024

RESERVED_CONNECTION_IDS = frozenset(
    name.lower()
    for name in [
        "None",
        "Directory",
        "Exchange",
        "ExchangeArchive",
        "LinkedIn",
        "Mailbox",
        "OneDriveBusiness",
        "SharePoint",
        "Teams",
        "Yammer",
        "Connectors",
        "TaskFabric",
        "PowerBI",
        "Assistant",
        "TopicEngine",
        "MSFT_All_Connectors",
    ]
)
CONTENT_CATEGORIES = frozenset(
    [
        "uncategorized",
        "knowledgeBase",
        "wikis",
        "fileRepository",
        "qna",
        "crm",
        "dashboard",
        "people",
        "media",
        "email",
        "messaging",
        "meetingTranscripts",
        "taskManagement",
        "learningManagement",
    ]
)
PEOPLE = "people"

UNKNOWN_FUTURE_VALUE = "unknownFutureValue"
BASIC_LABELS = frozenset(
    [
        "title",
        "url",
        "createdBy",
        "lastModifiedBy",
        "authors",
        "createdDateTime",
        "lastModifiedDateTime",
        "fileName",
        "fileExtension",
    ]
)
"""Labels before the evolvable enum's `unknownFutureValue` sentinel: no Prefer header needed."""
PERSON_LABEL_TYPES: Mapping[str, str] = {
    **dict.fromkeys(
        ["personAccount", "personCurrentPosition", "personName", "personNote", "personWebSite"],
        "string",
    ),
    **dict.fromkeys(
        [
            "personWorkPositions",
            "personAddresses",
            "personAnniversaries",
            "personAwards",
            "personCertifications",
            "personEducationalActivities",
            "personEmails",
            "personInterests",
            "personLanguages",
            "personPatents",
            "personPhones",
            "personPublications",
            "personProjects",
            "personSkills",
            "personWebAccounts",
        ],
        "stringCollection",
    ),
}
"""The supported person* labels and the property type each needs."""
UNSUPPORTED_PERSON_LABELS = frozenset(
    [
        "personManager",
        "personAssistants",
        "personColleagues",
        "personAlternateContacts",
        "personEmergencyContacts",
    ]
)
EVOLVABLE_LABELS = (
    frozenset(
        [
            "containerName",
            "containerUrl",
            "iconUrl",
            "assignedToPeople",
            "closedBy",
            "closedDate",
            "priority",
            "sprintName",
            "tags",
            "severity",
            "state",
            "dueDate",
            "itemParentId",
            "itemPath",
            "itemType",
            "numberOfReactions",
            "parentUrl",
            "priorityNormalized",
            "reportedBy",
            "secondaryId",
        ]
    )
    | frozenset(PERSON_LABEL_TYPES)
    | UNSUPPORTED_PERSON_LABELS
)
"""Labels after the sentinel: only with `Prefer: include-unknown-enum-members`."""

COLLECTION_ANNOTATIONS: Mapping[str, str] = {
    "stringCollection": "Collection(String)",
    "int64Collection": "Collection(Int64)",
    "doubleCollection": "Collection(Double)",
    "dateTimeCollection": "Collection(DateTimeOffset)",
}
BASIC_PROPERTY_TYPES = frozenset(
    {"string", "int64", "double", "dateTime", "boolean", *COLLECTION_ANNOTATIONS}
)
EVOLVABLE_PROPERTY_TYPES = frozenset({"principal", "principalCollection"})

ACL_TYPES = frozenset({"user", "group", "everyone", "everyoneExceptGuests", "externalGroup"})
ACCESS_TYPES = frozenset({"grant", "deny"})

_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9]+$")
INCLUDE_UNKNOWN_ENUM_MEMBERS = "include-unknown-enum-members"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the service refuses a request: the status and OData error code it answers with."""

    status: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class SchemaProperty:
    """One registered schema property, as item validation needs it."""

    name: str
    type: str
    labels: tuple[str, ...] = ()

    @property
    def person_label(self) -> str | None:
        """The property's person* label, if it has one."""
        return next((label for label in self.labels if label.startswith("person")), None)


@dataclass(frozen=True, slots=True)
class IgnoredValue:
    """A labelled value Graph accepts but silently drops (not a JSON-encoded object)."""

    property: str
    label: str
    index: int | None
    value: Any
    reason: str


@dataclass(frozen=True, slots=True)
class ItemVerdict:
    """The outcome of checking an external item: refusals, and values Graph would ignore."""

    problems: list[Problem] = field(default_factory=list)
    ignored: list[IgnoredValue] = field(default_factory=list)


def _invalid(message: str) -> Problem:
    return Problem(400, INVALID_REQUEST, message)


def _unknown_fields(body: Mapping[str, Any], allowed: set[str], type_name: str) -> list[Problem]:
    return [
        Problem(400, BAD_REQUEST, f"The property '{key}' does not exist on type '{type_name}'.")
        for key in body
        if "@" not in key and key not in allowed
    ]


def _require_object(body: Any, what: str) -> Problem | None:
    if isinstance(body, dict):
        return None
    return Problem(400, BAD_REQUEST, f"The request body must be a JSON object ({what}).")


def prefers(prefer_header: str | None, preference: str) -> bool:
    """Whether a `Prefer` header (comma-separated preferences) asks for `preference`."""
    if not prefer_header:
        return False
    return any(
        part.strip().split("=")[0].strip().lower() == preference
        for part in prefer_header.split(",")
    )


def max_page_size(prefer_header: str | None) -> int | None:
    """The `odata.maxpagesize=N` preference, or None when absent or not a positive integer."""
    for part in (prefer_header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize":
            try:
                size = int(value.strip().strip('"'))
            except ValueError:
                return None
            return size if size > 0 else None
    return None


def present_label(label: str, include_unknown_enum_members: bool) -> str:
    """A label as a GET answers it: evolvable members hide behind the sentinel without header."""
    if include_unknown_enum_members or label not in EVOLVABLE_LABELS:
        return label
    return UNKNOWN_FUTURE_VALUE


def present_type(type_name: str, include_unknown_enum_members: bool) -> str:
    """A property type as a GET answers it (principal types are evolvable members)."""
    if include_unknown_enum_members or type_name not in EVOLVABLE_PROPERTY_TYPES:
        return type_name
    return UNKNOWN_FUTURE_VALUE


# -- connections ----------------------------------------------------------------------------


def check_connection_id(connection_id: Any) -> Problem | None:
    """The rules for an external connection id (length, characters, reserved names)."""
    if not isinstance(connection_id, str) or not connection_id:
        return _invalid("The connection 'id' is required.")
    if not MIN_CONNECTION_ID <= len(connection_id) <= MAX_CONNECTION_ID:
        return _invalid(
            f"The connection id '{connection_id}' must be between {MIN_CONNECTION_ID} and "
            f"{MAX_CONNECTION_ID} characters long."
        )
    if not _ALPHANUMERIC.match(connection_id):
        return _invalid(f"The connection id '{connection_id}' must be alphanumeric.")
    if connection_id.lower().startswith("microsoft"):
        return _invalid(f"The connection id '{connection_id}' must not start with 'Microsoft'.")
    if connection_id.lower() in RESERVED_CONNECTION_IDS:
        return _invalid(f"The connection id '{connection_id}' is a reserved name.")
    return None


def _check_connection_fields(body: Mapping[str, Any], *, creating: bool) -> list[Problem]:
    problems: list[Problem] = []
    name = body.get("name")
    if creating or "name" in body:
        if not isinstance(name, str) or not name.strip():
            problems.append(_invalid("The connection 'name' is required."))
        elif len(name) > MAX_NAME_LENGTH:
            problems.append(
                _invalid(f"The connection 'name' must be at most {MAX_NAME_LENGTH} characters.")
            )
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(_invalid("The connection 'description' must be a string."))
    category = body.get("contentCategory")
    if category is not None and category not in CONTENT_CATEGORIES:
        problems.append(
            Problem(
                400,
                BAD_REQUEST,
                f"Invalid value '{category}' for enum "
                "'microsoft.graph.externalConnectors.contentCategory'.",
            )
        )
    return problems


_CONNECTION_FIELDS = {
    "id",
    "name",
    "description",
    "contentCategory",
    "connectorId",
    "activitySettings",
    "searchSettings",
    "configuration",
}


def check_connection(body: Any) -> list[Problem]:
    """The rules for `POST /external/connections`."""
    if (problem := _require_object(body, "externalConnection")) is not None:
        return [problem]
    problems = _unknown_fields(body, _CONNECTION_FIELDS, "externalConnection")
    if (problem := check_connection_id(body.get("id"))) is not None:
        problems.append(problem)
    return problems + _check_connection_fields(body, creating=True)


def check_connection_update(body: Any, connection_id: str) -> list[Problem]:
    """The rules for `PATCH /external/connections/{id}` (the id cannot change)."""
    if (problem := _require_object(body, "externalConnection")) is not None:
        return [problem]
    problems = _unknown_fields(body, _CONNECTION_FIELDS, "externalConnection")
    if "id" in body and body["id"] != connection_id:
        problems.append(_invalid("The connection 'id' cannot be changed."))
    if "contentCategory" in body:
        problems.append(_invalid("The connection 'contentCategory' cannot be changed."))
    return problems + _check_connection_fields(body, creating=False)


# -- schema ---------------------------------------------------------------------------------

_PROPERTY_FIELDS = {
    "name",
    "type",
    "labels",
    "aliases",
    "description",
    "isQueryable",
    "isRefinable",
    "isRetrievable",
    "isSearchable",
    "isExactMatchRequired",
    "rankingHint",
}


def _check_property(
    prop: Any, index: int, seen: set[str], include_unknown_enum_members: bool
) -> list[Problem]:
    if not isinstance(prop, dict):
        return [_invalid(f"Schema property #{index} must be an object.")]
    problems = _unknown_fields(prop, _PROPERTY_FIELDS, "property")
    name = prop.get("name")
    if not isinstance(name, str) or not name:
        return [*problems, _invalid(f"Schema property #{index} has no 'name'.")]
    if len(name) > MAX_PROPERTY_NAME:
        problems.append(
            _invalid(f"Property name '{name}' is longer than {MAX_PROPERTY_NAME} characters.")
        )
    if not _ALPHANUMERIC.match(name):
        problems.append(_invalid(f"Property name '{name}' must be alphanumeric."))
    if name.lower() in seen:
        problems.append(_invalid(f"Property name '{name}' is used more than once."))
    seen.add(name.lower())
    type_name = prop.get("type")
    if type_name in EVOLVABLE_PROPERTY_TYPES and not include_unknown_enum_members:
        problems.append(
            _invalid(
                f"Property '{name}' has type '{type_name}', which needs the header "
                f"'Prefer: {INCLUDE_UNKNOWN_ENUM_MEMBERS}'."
            )
        )
    elif type_name not in BASIC_PROPERTY_TYPES | EVOLVABLE_PROPERTY_TYPES:
        problems.append(_invalid(f"Property '{name}' has an unknown type '{type_name}'."))
    labels = prop.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return [*problems, _invalid(f"Property '{name}': 'labels' must be a list of strings.")]
    for label in labels:
        if label in EVOLVABLE_LABELS and not include_unknown_enum_members:
            problems.append(
                _invalid(
                    f"Label '{label}' on property '{name}' needs the header "
                    f"'Prefer: {INCLUDE_UNKNOWN_ENUM_MEMBERS}' (it is after the "
                    f"'{UNKNOWN_FUTURE_VALUE}' member of the evolvable enum)."
                )
            )
        elif label not in BASIC_LABELS | EVOLVABLE_LABELS:
            problems.append(_invalid(f"Property '{name}' has an unknown label '{label}'."))
    description = prop.get("description")
    if isinstance(description, str) and len(description) > MAX_PROPERTY_DESCRIPTION:
        problems.append(
            _invalid(
                f"Property '{name}': 'description' is longer than "
                f"{MAX_PROPERTY_DESCRIPTION} characters."
            )
        )
    return problems


def _check_people_schema(properties: list[SchemaProperty]) -> list[Problem]:
    problems: list[Problem] = []
    accounts = 0
    for prop in properties:
        if prop.type in EVOLVABLE_PROPERTY_TYPES:
            problems.append(
                _invalid(
                    f"Property '{prop.name}': type '{prop.type}' is not supported on a "
                    "people connection."
                )
            )
        if not prop.labels and prop.type != "string":
            problems.append(
                _invalid(
                    f"Unlabelled property '{prop.name}' must be of type 'string' on a people "
                    f"connection (got '{prop.type}')."
                )
            )
        for label in prop.labels:
            if label in UNSUPPORTED_PERSON_LABELS:
                problems.append(
                    _invalid(f"Label '{label}' is not supported on a people connection yet.")
                )
            elif label not in PERSON_LABEL_TYPES:
                problems.append(
                    _invalid(
                        f"Label '{label}' on property '{prop.name}' cannot be used on a people "
                        "connection; only person* labels are allowed."
                    )
                )
            elif prop.type != PERSON_LABEL_TYPES[label]:
                problems.append(
                    _invalid(
                        f"Property '{prop.name}' labelled '{label}' must be of type "
                        f"'{PERSON_LABEL_TYPES[label]}' (got '{prop.type}')."
                    )
                )
            if label == "personAccount":
                accounts += 1
    if accounts != 1:
        problems.append(
            _invalid(
                "A people connection schema needs exactly one property of type 'string' "
                f"labelled 'personAccount' (found {accounts})."
            )
        )
    return problems


def schema_properties(body: Mapping[str, Any]) -> list[SchemaProperty]:
    """The properties of a schema body that `check_schema` accepted."""
    return [
        SchemaProperty(p["name"], p["type"], tuple(p.get("labels", [])))
        for p in body.get("properties", [])
    ]


def check_schema(
    body: Any, content_category: str | None, include_unknown_enum_members: bool
) -> list[Problem]:
    """The rules for `PATCH /external/connections/{id}/schema`.

    Args:
        body: The parsed request body.
        content_category: The connection's `contentCategory` (None when not set).
        include_unknown_enum_members: Whether `Prefer: include-unknown-enum-members` was sent.

    Returns:
        The problems, most fundamental first; empty when the schema is accepted.
    """
    if (problem := _require_object(body, "schema")) is not None:
        return [problem]
    problems = _unknown_fields(body, {"baseType", "properties"}, "schema")
    if body.get("baseType") != EXTERNAL_ITEM_BASE_TYPE:
        problems.append(_invalid(f"The schema 'baseType' must be '{EXTERNAL_ITEM_BASE_TYPE}'."))
    properties = body.get("properties")
    if not isinstance(properties, list) or not properties:
        return [*problems, _invalid("The schema must have at least one property.")]
    if len(properties) > MAX_SCHEMA_PROPERTIES:
        return [
            *problems,
            _invalid(
                f"The schema has {len(properties)} properties; at most "
                f"{MAX_SCHEMA_PROPERTIES} are allowed."
            ),
        ]
    seen: set[str] = set()
    for index, prop in enumerate(properties):
        problems.extend(_check_property(prop, index, seen, include_unknown_enum_members))
    if problems:
        return problems
    parsed = schema_properties(body)
    labelled: dict[str, str] = {}
    for prop in parsed:
        for label in prop.labels:
            if label in labelled:
                problems.append(
                    _invalid(
                        f"Label '{label}' is used on both '{labelled[label]}' and '{prop.name}'."
                    )
                )
            labelled[label] = prop.name
    if content_category == PEOPLE:
        return problems + _check_people_schema(parsed)
    problems.extend(
        _invalid(
            f"Label '{label}' on property '{name}' needs a connection with "
            "contentCategory 'people'."
        )
        for label, name in labelled.items()
        if label.startswith("person")
    )
    return problems


# -- items ----------------------------------------------------------------------------------


def check_item_id(item_id: str) -> Problem | None:
    """The rules for an external item id."""
    if not item_id or len(item_id) > MAX_ITEM_ID or not _ALPHANUMERIC.match(item_id):
        return _invalid(
            f"The item id '{item_id[:140]}' is invalid: it must be alphanumeric and at most "
            f"{MAX_ITEM_ID} characters long."
        )
    return None


def _check_acl(acl: Any, people: bool) -> list[Problem]:
    if not isinstance(acl, list) or not acl:
        return [_invalid("The item must have an 'acl' with at least one entry.")]
    problems: list[Problem] = []
    for index, entry in enumerate(acl):
        if not isinstance(entry, dict):
            problems.append(_invalid(f"ACL entry #{index} must be an object."))
            continue
        problems.extend(_unknown_fields(entry, {"type", "value", "accessType"}, "acl"))
        if entry.get("type") not in ACL_TYPES:
            problems.append(
                _invalid(f"ACL entry #{index} has an invalid type {entry.get('type')!r}.")
            )
        if entry.get("accessType") not in ACCESS_TYPES:
            problems.append(
                _invalid(
                    f"ACL entry #{index} has an invalid accessType {entry.get('accessType')!r}."
                )
            )
        if not isinstance(entry.get("value"), str) or not entry["value"]:
            problems.append(_invalid(f"ACL entry #{index} needs a string 'value'."))
    if people and not any(
        isinstance(e, dict) and e.get("type") == "everyone" and e.get("accessType") == "grant"
        for e in acl
    ):
        problems.append(
            _invalid("Items of a people connection must grant access to 'everyone' in their acl.")
        )
    return problems


_SCALAR_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "string": str,
    "dateTime": str,
    "int64": int,
    "double": (int, float),
    "boolean": bool,
}


def _value_fits(type_name: str, value: Any) -> bool:
    if value is None:
        return True
    scalar = type_name.removesuffix("Collection")
    if type_name.endswith("Collection"):
        return isinstance(value, list) and all(
            v is not None and _value_fits(scalar, v) for v in value
        )
    expected = _SCALAR_TYPES.get(scalar)
    if expected is None:
        return True  # principal types: not checked by the stand-in
    return isinstance(value, expected) and not (isinstance(value, bool) and scalar != "boolean")


def _ignored_reason(value: Any) -> str | None:
    if not isinstance(value, str):
        return "not a string"
    try:
        decoded = json.loads(value)
    except ValueError:
        return "not valid JSON"
    if not isinstance(decoded, dict):
        return "not a JSON-encoded object"
    return None


def _ignored_values(prop: SchemaProperty, value: Any) -> list[IgnoredValue]:
    label = prop.person_label
    if label is None or value is None:
        return []
    if isinstance(value, list):
        found = []
        for index, element in enumerate(value):
            if (reason := _ignored_reason(element)) is not None:
                found.append(IgnoredValue(prop.name, label, index, element, reason))
        return found
    reason = _ignored_reason(value)
    return [] if reason is None else [IgnoredValue(prop.name, label, None, value, reason)]


def _check_value(prop: SchemaProperty, value: Any, annotation: Any) -> Problem | None:
    name = prop.name
    if not _value_fits(prop.type, value):
        return _invalid(
            f"Property '{name}' has type '{prop.type}' in the schema; the value given "
            f"is a {type(value).__name__}."
        )
    expected = COLLECTION_ANNOTATIONS.get(prop.type)
    if expected is not None and annotation != expected:
        return _invalid(
            f"Property '{name}' is a collection: it needs "
            f'"{name}@odata.type": "{expected}" (got {annotation!r}).'
        )
    if prop.type == "string" and annotation not in (None, "String"):
        return _invalid(f"Property '{name}' is a string; '{annotation}' does not fit.")
    return None


def _check_properties(
    properties: Any, schema: Mapping[str, SchemaProperty]
) -> tuple[list[Problem], list[IgnoredValue]]:
    if not isinstance(properties, dict):
        return [_invalid("The item must have 'properties'.")], []
    values = {k: v for k, v in properties.items() if "@" not in k}
    if not values:
        return [_invalid("The item must have at least one property in 'properties'.")], []
    problems: list[Problem] = []
    ignored: list[IgnoredValue] = []
    for key, annotation in properties.items():
        name, at, suffix = key.partition("@")
        if at and name and suffix == "odata.type" and name not in schema:
            problems.append(_invalid(f"Annotation '{key}' names a property not in the schema."))
        elif at and name and suffix == "odata.type" and not isinstance(annotation, str):
            problems.append(_invalid(f"Annotation '{key}' must be a string."))
    for name, value in values.items():
        prop = schema.get(name)
        if prop is None:
            problems.append(_invalid(f"Property '{name}' is not in the connection's schema."))
        elif (
            problem := _check_value(prop, value, properties.get(f"{name}@odata.type"))
        ) is not None:
            problems.append(problem)
        else:
            ignored.extend(_ignored_values(prop, value))
    return problems, ignored


def check_item(
    item_id: str, body: Any, schema: Mapping[str, SchemaProperty], people: bool
) -> ItemVerdict:
    """The rules for `PUT /external/connections/{id}/items/{itemId}`.

    Args:
        item_id: The item id from the URL.
        body: The parsed request body.
        schema: The connection's registered properties, by name.
        people: Whether the connection's contentCategory is `people`.

    Returns:
        The refusals (empty when accepted) and the labelled values Graph would drop.
    """
    if (problem := check_item_id(item_id)) is not None:
        return ItemVerdict([problem])
    if (problem := _require_object(body, "externalItem")) is not None:
        return ItemVerdict([problem])
    problems = _unknown_fields(
        body,
        {"id", "acl", "properties", "content", "activities", "informationProtectionLabel"},
        "externalItem",
    )
    if "id" in body and body["id"] != item_id:
        problems.append(
            _invalid(f"The body's id '{body['id']}' differs from the URL's '{item_id}'.")
        )
    problems.extend(_check_acl(body.get("acl"), people))
    property_problems, ignored = _check_properties(body.get("properties"), schema)
    problems.extend(property_problems)
    content = body.get("content")
    if content is not None and (
        not isinstance(content, dict) or content.get("type", "text") not in ("text", "html")
    ):
        problems.append(_invalid("The item 'content' must be {'type': 'text'|'html', 'value'}."))
    return ItemVerdict(problems, [] if problems else ignored)


# -- people settings ------------------------------------------------------------------------


def _is_https_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.netloc)


def check_profile_source(
    body: Any, *, creating: bool, source_id: str | None = None
) -> list[Problem]:
    """The rules for creating (POST) or updating (PATCH) a profileSource.

    Args:
        body: The parsed request body.
        creating: True for POST (sourceId and displayName required).
        source_id: On PATCH, the source's current sourceId (it cannot change).
    """
    if (problem := _require_object(body, "profileSource")) is not None:
        return [problem]
    problems = _unknown_fields(
        body, {"id", "sourceId", "displayName", "kind", "webUrl", "localizations"}, "profileSource"
    )
    if creating:
        if not isinstance(body.get("sourceId"), str) or not body["sourceId"].strip():
            problems.append(_invalid("The profile source 'sourceId' is required."))
        elif "'" in body["sourceId"] or "/" in body["sourceId"]:
            problems.append(_invalid("The profile source 'sourceId' must not contain ' or /."))
    elif "sourceId" in body and body["sourceId"] != source_id:
        problems.append(_invalid("The profile source 'sourceId' cannot be updated."))
    if "id" in body and not creating:
        problems.append(_invalid("The profile source 'id' cannot be updated."))
    if creating or "displayName" in body:
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            problems.append(_invalid("The profile source 'displayName' is required."))
    if "kind" in body and body["kind"] is not None and not isinstance(body["kind"], str):
        problems.append(_invalid("The profile source 'kind' must be a string."))
    if body.get("webUrl") is not None and not _is_https_url(body["webUrl"]):
        problems.append(_invalid("The profile source 'webUrl' must be an https URL."))
    return problems + _check_localizations(body.get("localizations"))


def _check_localizations(localizations: Any) -> list[Problem]:
    if localizations is None:
        return []
    if not isinstance(localizations, list):
        return [_invalid("The profile source 'localizations' must be a list.")]
    problems: list[Problem] = []
    for index, loc in enumerate(localizations):
        if not isinstance(loc, dict) or not isinstance(loc.get("languageTag"), str):
            problems.append(_invalid(f"Localization #{index} needs a 'languageTag'."))
        elif loc.get("webUrl") is not None and not _is_https_url(loc["webUrl"]):
            problems.append(_invalid(f"Localization #{index}: 'webUrl' must be https."))
    return problems


def check_property_setting(body: Any, *, creating: bool) -> list[Problem]:
    """The rules for creating (POST) or updating (PATCH) a profilePropertySetting."""
    if (problem := _require_object(body, "profilePropertySetting")) is not None:
        return [problem]
    problems = _unknown_fields(
        body, {"id", "name", "displayName", "prioritizedSourceUrls"}, "profilePropertySetting"
    )
    if "id" in body and not creating:
        problems.append(_invalid("The profile property setting 'id' cannot be updated."))
    for key in ("name", "displayName"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems.append(_invalid(f"The profile property setting '{key}' must be a string."))
    urls = body.get("prioritizedSourceUrls")
    if creating and urls is None:
        urls = []
    if "prioritizedSourceUrls" in body or creating:
        if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            problems.append(_invalid("'prioritizedSourceUrls' must be a list of strings."))
        elif len({u.lower() for u in urls}) != len(urls):
            problems.append(_invalid("'prioritizedSourceUrls' must not repeat a URL."))
    return problems


# -- users queries ($filter, $select, $orderby, $search) ------------------------------------

REQUEST_UNSUPPORTED_QUERY = "Request_UnsupportedQuery"
ADVANCED_QUERY_HINT = "Refer to https://aka.ms/graph-docs/advanced-queries for more information"

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
USER_SELECTABLE = frozenset({*USER_FIELDS, *USER_COLLECTIONS, "assignedLicenses", "assignedPlans"})

UserPredicate = Callable[[Any], bool]
"""Whether a directory user (a `DirectoryUser`) matches."""

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),:/])|(?P<word>[A-Za-z0-9_.+-]+))"
)


@dataclass(frozen=True, slots=True)
class UserFilter:
    """A parsed `$filter` on users: the predicate, and the first advanced construct it uses."""

    predicate: UserPredicate
    advanced: str | None


class _FilterSyntaxError(Exception):
    pass


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _equals(left: Any, right: Any) -> bool:
    return bool(_fold(left) == _fold(right))


def _differs(left: Any, right: Any) -> bool:
    return not _equals(left, right)


def _starts(left: Any, right: Any) -> bool:
    return isinstance(left, str) and isinstance(right, str) and _fold(left).startswith(_fold(right))


def _ends(left: Any, right: Any) -> bool:
    return isinstance(left, str) and isinstance(right, str) and _fold(left).endswith(_fold(right))


class _FilterParser:
    """Recursive descent over the OData subset the stand-in understands."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            found = _TOKEN.match(text, position)
            if found is None or found.end() == position:
                raise _FilterSyntaxError(f"unexpected character at position {position}")
            kind = found.lastgroup or ""
            self.tokens.append((kind, found.group(kind)))
            position = found.end()
            while position < len(text) and text[position].isspace():
                position += 1
        self.index = 0
        self.advanced: str | None = None

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _FilterSyntaxError("unexpected end of expression")
        self.index += 1
        return token

    def expect(self, value: str) -> None:
        _, text = self.next()
        if text.lower() != value.lower():
            raise _FilterSyntaxError(f"expected '{value}', found '{text}'")

    def keyword(self, *values: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() in values:
            self.index += 1
            return token[1].lower()
        return None

    def mark_advanced(self, construct: str) -> None:
        if self.advanced is None:
            self.advanced = construct

    def literal(self) -> Any:
        kind, text = self.next()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        if kind == "word" and re.fullmatch(r"-?\d+(\.\d+)?", text):
            return float(text) if "." in text else int(text)
        raise _FilterSyntaxError(f"expected a literal, found '{text}'")

    def parse(self) -> UserPredicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise _FilterSyntaxError(f"unexpected '{self.next()[1]}'")
        return predicate

    def or_expr(self) -> UserPredicate:
        parts = [self.and_expr()]
        while self.keyword("or"):
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda user: any(p(user) for p in parts)

    def and_expr(self) -> UserPredicate:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return lambda user: all(p(user) for p in parts)

    def unary(self) -> UserPredicate:
        if self.keyword("not"):
            self.mark_advanced("not")
            inner = self.unary()
            return lambda user: not inner(user)
        token = self.peek()
        if token is not None and token[1] == "(":
            self.next()
            inner = self.or_expr()
            self.expect(")")
            return inner
        return self.primary()

    def function(self, name: str, variable: str | None = None) -> tuple[str, Any]:
        """`startsWith(field, 'x')` / `endsWith(...)`: the field (or variable) and literal."""
        if name == "endswith":
            self.mark_advanced("endsWith")
        self.expect("(")
        kind, subject = self.next()
        if kind != "word":
            raise _FilterSyntaxError(f"expected a property, found '{subject}'")
        if variable is not None and subject != variable:
            raise _FilterSyntaxError(f"unknown lambda variable '{subject}'")
        self.expect(",")
        value = self.literal()
        self.expect(")")
        return subject, value

    def primary(self) -> UserPredicate:
        kind, name = self.next()
        if kind != "word":
            raise _FilterSyntaxError(f"expected a property, found '{name}'")
        if name.lower() in ("startswith", "endswith"):
            field_name, value = self.function(name.lower())
            getter = _field_getter(field_name)
            test = _starts if name.lower() == "startswith" else _ends
            return lambda user: test(getter(user), value)
        token = self.peek()
        if token is not None and token[1] == "/":
            return self.any_lambda(name)
        getter = _field_getter(name)
        operator = self.keyword("eq", "ne", "in")
        if operator is None:
            raise _FilterSyntaxError(f"expected eq, ne or in after '{name}'")
        if operator == "in":
            self.expect("(")
            values = [self.literal()]
            while self.peek() is not None and self.peek() == ("punct", ","):
                self.next()
                values.append(self.literal())
            self.expect(")")
            folded = {_fold(v) for v in values}
            return lambda user: _fold(getter(user)) in folded
        value = self.literal()
        if operator == "ne":
            self.mark_advanced("ne")
            return lambda user: not _equals(getter(user), value)
        return lambda user: _equals(getter(user), value)

    def any_lambda(self, collection: str) -> UserPredicate:
        attribute = USER_COLLECTIONS.get(collection)
        if attribute is None:
            raise _FilterSyntaxError(f"'{collection}' is not a collection property of user")
        self.expect("/")
        self.expect("any")
        self.expect("(")
        kind, variable = self.next()
        if kind != "word":
            raise _FilterSyntaxError("expected a lambda variable")
        self.expect(":")
        kind, subject = self.next()
        if subject.lower() in ("startswith", "endswith"):
            _, value = self.function(subject.lower(), variable)
            test = _starts if subject.lower() == "startswith" else _ends
        else:
            if subject != variable:
                raise _FilterSyntaxError(f"unknown lambda variable '{subject}'")
            operator = self.keyword("eq", "ne")
            if operator is None:
                raise _FilterSyntaxError("expected eq in the lambda")
            if operator == "ne":
                self.mark_advanced("ne")
            value = self.literal()
            test = _equals if operator == "eq" else _differs
        self.expect(")")
        return lambda user: any(test(v, value) for v in getattr(user, attribute))


def _field_getter(name: str) -> Any:
    attribute = USER_FIELDS.get(name)
    if attribute is None:
        raise _FilterSyntaxError(
            f"Could not find a property named '{name}' on type 'microsoft.graph.user'"
        )
    return lambda user: getattr(user, attribute)


def parse_user_filter(text: str) -> UserFilter | Problem:
    """Parse a users `$filter` into a predicate over directory users.

    Supports `eq`, `in`, `startsWith`, `any` lambdas on proxyAddresses/otherMails, `and`/`or`,
    and the advanced constructs `ne`, `not`, `endsWith` (reported in `UserFilter.advanced`).
    String comparisons are case-insensitive; `''` inside a literal is one quote.
    """
    try:
        parser = _FilterParser(text)
        predicate = parser.parse()
    except _FilterSyntaxError as exc:
        return Problem(400, BAD_REQUEST, f"Invalid filter clause: {exc}")
    return UserFilter(predicate, parser.advanced)


def parse_select(
    text: str | None, allowed: frozenset[str] = USER_SELECTABLE
) -> list[str] | Problem:
    """The properties of a `$select` list (None when absent -> empty list)."""
    if text is None:
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in allowed:
            return Problem(
                400,
                BAD_REQUEST,
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.user'.",
            )
    return names


def _combine(first: UserPredicate, second: UserPredicate, *, both: bool) -> UserPredicate:
    if both:
        return lambda user: first(user) and second(user)
    return lambda user: first(user) or second(user)


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
            return Problem(400, BAD_REQUEST, f"Invalid $search clause: {clause}")
        attribute, needle = USER_FIELDS[found.group(1)], found.group(2).casefold()

        def clause_test(user: Any, attribute: str = attribute, needle: str = needle) -> bool:
            value = getattr(user, attribute)
            return isinstance(value, str) and needle in value.casefold()

        if predicate is None:
            predicate = clause_test
        else:
            predicate = _combine(predicate, clause_test, both=operator == "AND")
    return predicate if predicate is not None else Problem(400, BAD_REQUEST, "Empty $search.")


def parse_orderby(text: str) -> tuple[str, bool] | Problem:
    """A users `$orderby` (`property [asc|desc]`) as (DirectoryUser attribute, descending)."""
    parts = text.split()
    if not parts or len(parts) > 2 or parts[0] not in USER_FIELDS:
        return Problem(400, BAD_REQUEST, f"Invalid $orderby: {text}")
    direction = parts[1].lower() if len(parts) == 2 else "asc"
    if direction not in ("asc", "desc"):
        return Problem(400, BAD_REQUEST, f"Invalid $orderby direction: {parts[1]}")
    return USER_FIELDS[parts[0]], direction == "desc"


def advanced_query_problem(construct: str) -> Problem:
    """The refusal of an advanced construct sent without `ConsistencyLevel: eventual`."""
    return Problem(
        400,
        REQUEST_UNSUPPORTED_QUERY,
        f"Operator '{construct}' is not supported because the 'ConsistencyLevel:eventual' "
        f"header is missing or $count=true is not set. {ADVANCED_QUERY_HINT}",
    )
