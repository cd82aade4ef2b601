"""The Graph stand-in's validation rules, as pure functions that return typed problems.

Each `check_*` function looks at one request body (already parsed from JSON) and returns the
problems the real service would answer with, first problem first; an empty list means the body
is accepted. Each `parse_*` function turns a query option into a value or a `Problem`. Nothing
here does I/O or holds state, so the rules are tested with plain values.

Each area lives in its own module (`connections`, `schema`, `items`, `people_settings`,
`users_query` ...); this package re-exports their public names so callers can write
`rules.check_item(...)`.
"""

from __future__ import annotations

from devstack.graph.rules.connections import (
    CONTENT_CATEGORIES,
    PEOPLE,
    RESERVED_CONNECTION_IDS,
    check_connection,
    check_connection_id,
    check_connection_update,
)
from devstack.graph.rules.enums import (
    BASIC_LABELS,
    BASIC_PROPERTY_TYPES,
    COLLECTION_ANNOTATIONS,
    EVOLVABLE_LABELS,
    EVOLVABLE_PROPERTY_TYPES,
    PERSON_LABEL_TYPES,
    UNKNOWN_FUTURE_VALUE,
    UNSUPPORTED_PERSON_LABELS,
    present_label,
    present_type,
)
from devstack.graph.rules.items import (
    ENTITY_TOO_LARGE,
    MAX_ITEM_BYTES,
    IgnoredValue,
    ItemVerdict,
    check_item,
    check_item_id,
    check_item_size,
)
from devstack.graph.rules.people_settings import check_profile_source, check_property_setting
from devstack.graph.rules.prefer import INCLUDE_UNKNOWN_ENUM_MEMBERS, max_page_size, prefers
from devstack.graph.rules.problems import (
    BAD_REQUEST,
    INVALID_REQUEST,
    UPDATE_NOT_ALLOWED,
    Problem,
)
from devstack.graph.rules.schema import (
    EXTERNAL_ITEM_BASE_TYPE,
    SchemaProperty,
    check_schema,
    schema_properties,
)
from devstack.graph.rules.user_filter import UserFilter, UserPredicate, parse_user_filter
from devstack.graph.rules.user_properties import (
    USER_FIELDS,
    USER_SELECTABLE,
    parse_select,
    project_user,
)
from devstack.graph.rules.users_query import (
    REQUEST_UNSUPPORTED_QUERY,
    UsersQuery,
    advanced_query_problem,
    parse_orderby,
    parse_search,
    parse_top,
    parse_users_query,
)

__all__ = [
    "BAD_REQUEST",
    "BASIC_LABELS",
    "BASIC_PROPERTY_TYPES",
    "COLLECTION_ANNOTATIONS",
    "CONTENT_CATEGORIES",
    "ENTITY_TOO_LARGE",
    "EVOLVABLE_LABELS",
    "EVOLVABLE_PROPERTY_TYPES",
    "EXTERNAL_ITEM_BASE_TYPE",
    "INCLUDE_UNKNOWN_ENUM_MEMBERS",
    "INVALID_REQUEST",
    "MAX_ITEM_BYTES",
    "PEOPLE",
    "PERSON_LABEL_TYPES",
    "REQUEST_UNSUPPORTED_QUERY",
    "RESERVED_CONNECTION_IDS",
    "UNKNOWN_FUTURE_VALUE",
    "UNSUPPORTED_PERSON_LABELS",
    "UPDATE_NOT_ALLOWED",
    "USER_FIELDS",
    "USER_SELECTABLE",
    "IgnoredValue",
    "ItemVerdict",
    "Problem",
    "SchemaProperty",
    "UserFilter",
    "UserPredicate",
    "UsersQuery",
    "advanced_query_problem",
    "check_connection",
    "check_connection_id",
    "check_connection_update",
    "check_item",
    "check_item_id",
    "check_item_size",
    "check_profile_source",
    "check_property_setting",
    "check_schema",
    "max_page_size",
    "parse_orderby",
    "parse_search",
    "parse_select",
    "parse_top",
    "parse_user_filter",
    "parse_users_query",
    "prefers",
    "present_label",
    "present_type",
    "project_user",
    "schema_properties",
]
