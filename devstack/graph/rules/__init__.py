"""The Graph stand-in's validation rules, as pure functions that return refusals.

Each `check_*` function looks at one request body (already parsed from JSON) and returns the
refusals the real service would answer with, first problem first; an empty list means the body
is accepted. Nothing here does I/O or holds state, so the rules are tested with plain values.
Each area lives in its own module (`connections`, `schema`, `items`, `people_settings`); the
names other tests use are re-exported here.
"""

from __future__ import annotations

from devstack.graph.rules.items import check_item
from devstack.graph.rules.schema import SchemaProperty, check_schema, schema_properties

__all__ = ["SchemaProperty", "check_item", "check_schema", "schema_properties"]
