"""The rules for a connection's schema: properties, types, labels, and what people connections need.

`check_schema` answers a `PATCH .../schema` body; `schema_properties` turns an accepted body into
the `SchemaProperty` values that items are later checked against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devstack.graph.rules.connections import PEOPLE
from devstack.graph.rules.enums import (
    BASIC_LABELS,
    BASIC_PROPERTY_TYPES,
    EVOLVABLE_LABELS,
    EVOLVABLE_PROPERTY_TYPES,
    PERSON_LABEL_TYPES,
    UNKNOWN_FUTURE_VALUE,
    UNSUPPORTED_PERSON_LABELS,
)
from devstack.graph.rules.prefer import INCLUDE_UNKNOWN_ENUM_MEMBERS
from devstack.graph.rules.problems import (
    Problem,
    invalid,
    is_alphanumeric,
    names,
    require_object,
    unknown_fields,
)

EXTERNAL_ITEM_BASE_TYPE = "microsoft.graph.externalItem"
MAX_SCHEMA_PROPERTIES = 128
MAX_PROPERTY_NAME = 32
MAX_PROPERTY_DESCRIPTION = 200

_PROPERTY_FIELDS = names(
    "name type labels aliases description isQueryable isRefinable isRetrievable isSearchable "
    "isExactMatchRequired rankingHint"
)


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
    if (problem := require_object(body, "schema")) is not None:
        return [problem]
    problems = unknown_fields(body, {"baseType", "properties"}, "schema")
    if body.get("baseType") != EXTERNAL_ITEM_BASE_TYPE:
        problems.append(invalid(f"The schema 'baseType' must be '{EXTERNAL_ITEM_BASE_TYPE}'."))
    properties = body.get("properties")
    if not isinstance(properties, list) or not properties:
        return [*problems, invalid("The schema must have at least one property.")]
    if len(properties) > MAX_SCHEMA_PROPERTIES:
        return [
            *problems,
            invalid(
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
                    invalid(
                        f"Label '{label}' is used on both '{labelled[label]}' and '{prop.name}'."
                    )
                )
            labelled[label] = prop.name
    if content_category == PEOPLE:
        return problems + _check_people_schema(parsed)
    problems.extend(
        invalid(
            f"Label '{label}' on property '{name}' needs a connection with "
            "contentCategory 'people'."
        )
        for label, name in labelled.items()
        if label.startswith("person")
    )
    return problems


def _check_property(
    prop: Any, index: int, seen: set[str], include_unknown_enum_members: bool
) -> list[Problem]:
    if not isinstance(prop, dict):
        return [invalid(f"Schema property #{index} must be an object.")]
    problems = unknown_fields(prop, _PROPERTY_FIELDS, "property")
    name = prop.get("name")
    if not isinstance(name, str) or not name:
        return [*problems, invalid(f"Schema property #{index} has no 'name'.")]
    problems.extend(_check_property_name(name, seen))
    problems.extend(_check_property_type(name, prop.get("type"), include_unknown_enum_members))
    labels = prop.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return [*problems, invalid(f"Property '{name}': 'labels' must be a list of strings.")]
    problems.extend(_check_labels(name, labels, include_unknown_enum_members))
    description = prop.get("description")
    if isinstance(description, str) and len(description) > MAX_PROPERTY_DESCRIPTION:
        problems.append(
            invalid(
                f"Property '{name}': 'description' is longer than "
                f"{MAX_PROPERTY_DESCRIPTION} characters."
            )
        )
    return problems


def _check_property_name(name: str, seen: set[str]) -> list[Problem]:
    """Length, alphabet and uniqueness (case-insensitive) of a property name; records it."""
    problems: list[Problem] = []
    if len(name) > MAX_PROPERTY_NAME:
        problems.append(
            invalid(f"Property name '{name}' is longer than {MAX_PROPERTY_NAME} characters.")
        )
    if not is_alphanumeric(name):
        problems.append(invalid(f"Property name '{name}' must be alphanumeric."))
    if name.lower() in seen:
        problems.append(invalid(f"Property name '{name}' is used more than once."))
    seen.add(name.lower())
    return problems


def _check_property_type(
    name: str, type_name: Any, include_unknown_enum_members: bool
) -> list[Problem]:
    if type_name in EVOLVABLE_PROPERTY_TYPES and not include_unknown_enum_members:
        return [
            invalid(
                f"Property '{name}' has type '{type_name}', which needs the header "
                f"'Prefer: {INCLUDE_UNKNOWN_ENUM_MEMBERS}'."
            )
        ]
    if type_name not in BASIC_PROPERTY_TYPES | EVOLVABLE_PROPERTY_TYPES:
        return [invalid(f"Property '{name}' has an unknown type '{type_name}'.")]
    return []


def _check_labels(
    name: str, labels: list[str], include_unknown_enum_members: bool
) -> list[Problem]:
    problems: list[Problem] = []
    for label in labels:
        if label in EVOLVABLE_LABELS and not include_unknown_enum_members:
            problems.append(
                invalid(
                    f"Label '{label}' on property '{name}' needs the header "
                    f"'Prefer: {INCLUDE_UNKNOWN_ENUM_MEMBERS}' (it is after the "
                    f"'{UNKNOWN_FUTURE_VALUE}' member of the evolvable enum)."
                )
            )
        elif label not in BASIC_LABELS | EVOLVABLE_LABELS:
            problems.append(invalid(f"Property '{name}' has an unknown label '{label}'."))
    return problems


def _check_people_schema(properties: list[SchemaProperty]) -> list[Problem]:
    """What a people connection adds: person* labels only, typed as Graph expects them."""
    problems: list[Problem] = []
    accounts = 0
    for prop in properties:
        if prop.type in EVOLVABLE_PROPERTY_TYPES:
            problems.append(
                invalid(
                    f"Property '{prop.name}': type '{prop.type}' is not supported on a "
                    "people connection."
                )
            )
        if not prop.labels and prop.type != "string":
            problems.append(
                invalid(
                    f"Unlabelled property '{prop.name}' must be of type 'string' on a people "
                    f"connection (got '{prop.type}')."
                )
            )
        for label in prop.labels:
            if (problem := _check_person_label(prop, label)) is not None:
                problems.append(problem)
        accounts += prop.labels.count("personAccount")
    if accounts != 1:
        problems.append(
            invalid(
                "A people connection schema needs exactly one property of type 'string' "
                f"labelled 'personAccount' (found {accounts})."
            )
        )
    return problems


def _check_person_label(prop: SchemaProperty, label: str) -> Problem | None:
    if label in UNSUPPORTED_PERSON_LABELS:
        return invalid(f"Label '{label}' is not supported on a people connection yet.")
    if label not in PERSON_LABEL_TYPES:
        return invalid(
            f"Label '{label}' on property '{prop.name}' cannot be used on a people "
            "connection; only person* labels are allowed."
        )
    if prop.type != PERSON_LABEL_TYPES[label]:
        return invalid(
            f"Property '{prop.name}' labelled '{label}' must be of type "
            f"'{PERSON_LABEL_TYPES[label]}' (got '{prop.type}')."
        )
    return None
