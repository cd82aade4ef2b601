"""The people schema: what `graph.provisioning` registers, and how a registered one differs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PREFER_UNKNOWN_ENUM_MEMBERS = "include-unknown-enum-members"
"""`Prefer` value that makes Graph show labels added after v1.0's enum (evolvable enums)."""
EXTERNAL_ITEM = "microsoft.graph.externalItem"


@dataclass(frozen=True)
class SchemaOperation:
    """A schema registration's state: `inprogress`, `completed`, `failed` or `unspecified`."""

    id: str
    status: str
    error_code: str = ""
    error_message: str = ""

    @property
    def error(self) -> str:
        """Graph's error as `code: message` (empty unless failed with an error)."""
        return ": ".join(part for part in (self.error_code, self.error_message) if part)


def schema_body(properties: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `PATCH .../schema` body for these properties."""
    return {"baseType": EXTERNAL_ITEM, "properties": [dict(p) for p in properties]}


def _property_key(prop: Mapping[str, Any]) -> tuple[str, frozenset[str]]:
    return str(prop.get("type", "")), frozenset(str(x) for x in prop.get("labels") or [])


def schema_differences(
    wanted: Sequence[Mapping[str, Any]], registered: Sequence[Mapping[str, Any]]
) -> list[str]:
    """How a registered schema differs from the wanted one (names compared case-blind)."""
    have = {str(p.get("name", "")).lower(): p for p in registered}
    differences: list[str] = []
    for prop in wanted:
        name = str(prop["name"])
        found = have.pop(name.lower(), None)
        want_type, want_labels = _property_key(prop)
        if found is None:
            differences.append(f"property {name!r} ({want_type}) is missing")
            continue
        got_type, got_labels = _property_key(found)
        if got_type != want_type:
            differences.append(f"property {name!r} is {got_type}, not {want_type}")
        if got_labels != want_labels:
            differences.append(
                f"property {name!r} has labels {sorted(got_labels)}, not {sorted(want_labels)}"
            )
    differences.extend(f"property {p.get('name')!r} is not the connector's" for p in have.values())
    return differences
