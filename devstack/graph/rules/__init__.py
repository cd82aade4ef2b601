"""The Graph stand-in's validation rules, as pure functions that return typed problems.

Each `check_*` function looks at one request body (already parsed from JSON) and returns the
problems the real service would answer with, first problem first; an empty list means the body
is accepted. Nothing here does I/O or holds state, so the rules are tested with plain values.
Each area lives in its own module (`connections`, `schema`, `items`, `people_settings`); the
names callers use are re-exported here, so they can write `rules.check_item(...)`.
"""

from __future__ import annotations

from devstack.graph.rules.connections import check_connection, check_connection_id
from devstack.graph.rules.enums import PERSON_LABEL_TYPES, present_label, present_type
from devstack.graph.rules.items import check_item, check_item_id, check_item_size
from devstack.graph.rules.people_settings import check_profile_source, check_property_setting
from devstack.graph.rules.prefer import max_page_size, prefers
from devstack.graph.rules.problems import Problem
from devstack.graph.rules.schema import (
    EXTERNAL_ITEM_BASE_TYPE,
    SchemaProperty,
    check_schema,
    schema_properties,
)

__all__ = [
    "EXTERNAL_ITEM_BASE_TYPE",
    "PERSON_LABEL_TYPES",
    "Problem",
    "SchemaProperty",
    "check_connection",
    "check_connection_id",
    "check_item",
    "check_item_id",
    "check_item_size",
    "check_profile_source",
    "check_property_setting",
    "check_schema",
    "max_page_size",
    "prefers",
    "present_label",
    "present_type",
    "schema_properties",
]
