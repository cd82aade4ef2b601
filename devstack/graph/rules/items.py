"""The rules for external items: id, size, ACL, property values, and labelled values Graph ignores.

`check_item` answers a `PUT .../items/{itemId}` body against the connection's registered schema.
Besides refusals it reports person-labelled values that Graph accepts but silently drops
(anything that is not a JSON-encoded object), so tests can see what a real tenant would lose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack.graph.rules.enums import COLLECTION_ANNOTATIONS
from devstack.graph.rules.problems import (
    Problem,
    invalid,
    is_alphanumeric,
    require_object,
    unknown_fields,
)
from devstack.graph.rules.schema import SchemaProperty
from devstack.standin import HttpError

ENTITY_TOO_LARGE = "RequestEntityTooLarge"
MAX_ITEM_ID = 128
MAX_ITEM_BYTES = 4 * 1024 * 1024
ACL_TYPES = frozenset({"user", "group", "everyone", "everyoneExceptGuests", "externalGroup"})
ACCESS_TYPES = frozenset({"grant", "deny"})

_ITEM_FIELDS = {"id", "acl", "properties", "content", "activities", "informationProtectionLabel"}
_SCALAR_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "string": str,
    "dateTime": str,
    "int64": int,
    "double": (int, float),
    "boolean": bool,
}


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


def check_item_size(size: int) -> Problem | None:
    """The 413 for an item body over Graph's 4 MB limit, or None."""
    if size <= MAX_ITEM_BYTES:
        return None
    message = f"The item is {size} bytes; at most {MAX_ITEM_BYTES} are allowed."
    return HttpError(413, message, ENTITY_TOO_LARGE)


def check_item_id(item_id: str) -> Problem | None:
    """The rules for an external item id."""
    if not item_id or len(item_id) > MAX_ITEM_ID or not is_alphanumeric(item_id):
        return invalid(
            f"The item id '{item_id[:140]}' is invalid: it must be alphanumeric and at most "
            f"{MAX_ITEM_ID} characters long."
        )
    return None


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
    if (problem := require_object(body, "externalItem")) is not None:
        return ItemVerdict([problem])
    problems = unknown_fields(body, _ITEM_FIELDS, "externalItem")
    if "id" in body and body["id"] != item_id:
        problems.append(
            invalid(f"The body's id '{body['id']}' differs from the URL's '{item_id}'.")
        )
    problems.extend(_check_acl(body.get("acl"), people))
    property_problems, ignored = _check_properties(body.get("properties"), schema)
    problems.extend(property_problems)
    return ItemVerdict(problems, [] if problems else ignored)


def _check_acl(acl: Any, people: bool) -> list[Problem]:
    if not isinstance(acl, list) or not acl:
        return [invalid("The item must have an 'acl' with at least one entry.")]
    problems: list[Problem] = []
    for index, entry in enumerate(acl):
        if not isinstance(entry, dict):
            problems.append(invalid(f"ACL entry #{index} must be an object."))
            continue
        problems.extend(unknown_fields(entry, {"type", "value", "accessType"}, "acl"))
        for key, allowed in (("type", ACL_TYPES), ("accessType", ACCESS_TYPES)):
            if entry.get(key) not in allowed:
                problems.append(
                    invalid(f"ACL entry #{index} has an invalid {key} {entry.get(key)!r}.")
                )
        if not isinstance(entry.get("value"), str) or not entry["value"]:
            problems.append(invalid(f"ACL entry #{index} needs a string 'value'."))
    if people and not any(
        isinstance(e, dict) and e.get("type") == "everyone" and e.get("accessType") == "grant"
        for e in acl
    ):
        problems.append(
            invalid("Items of a people connection must grant access to 'everyone' in their acl.")
        )
    return problems


def check_everyone_value(acl: Any, tenant_id: str) -> list[Problem]:
    """The `acl` resource's rule for `everyone` entries: the value is the tenant's id.

    Graph's documentation gives the tenant id as the value (its example, a GUID); the bare
    literal `everyone` or another tenant's id is refused, as Graph's validation would.
    """
    if not isinstance(acl, list):
        return []  # `check_item` names a missing or malformed acl
    return [
        invalid(
            f"ACL entry #{index} of type 'everyone' must have the tenant id as its value, "
            f"not {entry.get('value')!r}."
        )
        for index, entry in enumerate(acl)
        if isinstance(entry, dict)
        and entry.get("type") == "everyone"
        and str(entry.get("value", "")).lower() != tenant_id.lower()
    ]


def _check_properties(
    properties: Any, schema: Mapping[str, SchemaProperty]
) -> tuple[list[Problem], list[IgnoredValue]]:
    if not isinstance(properties, dict):
        return [invalid("The item must have 'properties'.")], []
    values = {k: v for k, v in properties.items() if "@" not in k}
    if not values:
        return [invalid("The item must have at least one property in 'properties'.")], []
    problems: list[Problem] = []
    ignored: list[IgnoredValue] = []
    for key, annotation in properties.items():
        name, at, suffix = key.partition("@")
        if at and name and suffix == "odata.type" and name not in schema:
            problems.append(invalid(f"Annotation '{key}' names a property not in the schema."))
        elif at and name and suffix == "odata.type" and not isinstance(annotation, str):
            problems.append(invalid(f"Annotation '{key}' must be a string."))
    for name, value in values.items():
        prop = schema.get(name)
        if prop is None:
            problems.append(invalid(f"Property '{name}' is not in the connection's schema."))
        elif (
            problem := _check_value(prop, value, properties.get(f"{name}@odata.type"))
        ) is not None:
            problems.append(problem)
        else:
            ignored.extend(_ignored_values(prop, value))
    return problems, ignored


def _check_value(prop: SchemaProperty, value: Any, annotation: Any) -> Problem | None:
    name = prop.name
    if not _value_fits(prop.type, value):
        return invalid(
            f"Property '{name}' has type '{prop.type}' in the schema; the value given "
            f"is a {type(value).__name__}."
        )
    expected = COLLECTION_ANNOTATIONS.get(prop.type)
    if expected is not None and annotation != expected:
        return invalid(
            f"Property '{name}' is a collection: it needs "
            f'"{name}@odata.type": "{expected}" (got {annotation!r}).'
        )
    if prop.type == "string" and annotation not in (None, "String"):
        return invalid(f"Property '{name}' is a string; '{annotation}' does not fit.")
    return None


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


def _ignored_reason(value: Any) -> str | None:
    """Why Graph would drop a person-labelled value, or None when it keeps it."""
    if not isinstance(value, str):
        return "not a string"
    try:
        decoded = json.loads(value)
    except ValueError:
        return "not valid JSON"
    if not isinstance(decoded, dict):
        return "not a JSON-encoded object"
    return None
