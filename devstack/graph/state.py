"""The Graph stand-in's service state: connector state and people settings behind one lock.

`GraphState` is the one object the route handlers and tests hold; it composes the parts, each
in the module named after what it keeps: `connectors_state` (connections, schemas, operations,
items) and `people_settings_state` (profile sources, property settings). Refusals that depend
on state (not found, conflicts, a schema that cannot change) are raised as `StateError`
(`state_errors`) carrying the `Problem` to answer with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from devstack.graph.connectors_state import DEFAULT_SCHEMA_DELAY_S, ConnectorsState
from devstack.graph.people_settings_state import (
    ENTRA_SOURCE_ID,
    ENTRA_SOURCE_URL,
    PeopleSettingsState,
)
from devstack.graph.rules.items import IgnoredValue
from devstack.graph.rules.schema import SchemaProperty
from devstack.graph.state_errors import CONFLICT, NOT_FOUND, StateError

__all__ = [
    "CONFLICT",
    "DEFAULT_SCHEMA_DELAY_S",
    "ENTRA_SOURCE_ID",
    "ENTRA_SOURCE_URL",
    "NOT_FOUND",
    "GraphState",
    "StateError",
]


class GraphState:
    """Thread-safe in-memory state of the Graph endpoints the connector uses.

    Each method is documented where its behaviour lives: `ConnectorsState` or
    `PeopleSettingsState`. Both parts share one lock.

    Args:
        clock: Monotonic seconds; schema operations complete `schema_delay_s` after starting.
        schema_delay_s: How long a schema operation stays `inprogress`.

    Attributes:
        connectors: Connections, their schemas and operations, and their items.
        people_settings: Profile sources and profile property settings.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        schema_delay_s: float = DEFAULT_SCHEMA_DELAY_S,
    ) -> None:
        lock = threading.Lock()
        self.connectors = ConnectorsState(clock, schema_delay_s, lock)
        self.people_settings = PeopleSettingsState(lock)

    @property
    def clock(self) -> Callable[[], float]:
        """Monotonic seconds schema operations are timed on."""
        return self.connectors.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.connectors.clock = clock

    @property
    def schema_delay_s(self) -> float:
        """How long a schema operation stays `inprogress`."""
        return self.connectors.schema_delay_s

    @schema_delay_s.setter
    def schema_delay_s(self, delay_s: float) -> None:
        self.connectors.schema_delay_s = delay_s

    # -- connections -----------------------------------------------------------------------

    def create_connection(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a connection from a validated POST body; 409 when the id is taken."""
        return self.connectors.create_connection(body)

    def connection(self, connection_id: str) -> dict[str, Any]:
        """A connection's JSON."""
        return self.connectors.connection(connection_id)

    def connections(self) -> list[dict[str, Any]]:
        """Every connection's JSON, in creation order."""
        return self.connectors.connections()

    def update_connection(self, connection_id: str, body: Mapping[str, Any]) -> None:
        """Apply a validated PATCH (name, description) to a connection."""
        self.connectors.update_connection(connection_id, body)

    def delete_connection(self, connection_id: str) -> None:
        """Delete a connection with its schema, operations and items."""
        self.connectors.delete_connection(connection_id)

    # -- schema ----------------------------------------------------------------------------

    def fail_next_schema_operation(
        self, message: str = "The schema could not be provisioned.", code: str = "InternalError"
    ) -> None:
        """Make the next schema operation end `failed` with this error (a test knob)."""
        self.connectors.fail_next_schema_operation(message, code)

    def start_schema_operation(
        self, connection_id: str, body: Mapping[str, Any], properties: list[SchemaProperty]
    ) -> str:
        """Start registering a validated schema; the new operation's id."""
        return self.connectors.start_schema_operation(connection_id, body, properties)

    def operation(self, connection_id: str, operation_id: str) -> dict[str, Any]:
        """A schema operation's JSON (`id`, `status`, `error`)."""
        return self.connectors.operation(connection_id, operation_id)

    def schema(self, connection_id: str) -> dict[str, Any]:
        """The registered schema (404 until its operation completed)."""
        return self.connectors.schema(connection_id)

    # -- items -----------------------------------------------------------------------------

    def item_schema(self, connection_id: str) -> tuple[Mapping[str, SchemaProperty], bool]:
        """The properties items of a connection are checked against, and whether it is people."""
        return self.connectors.item_schema(connection_id)

    def put_item(
        self,
        connection_id: str,
        item_id: str,
        item: dict[str, Any],
        ignored: list[IgnoredValue],
    ) -> None:
        """Create or overwrite an item, recording the values Graph would ignore."""
        self.connectors.put_item(connection_id, item_id, item, ignored)

    def item(self, connection_id: str, item_id: str) -> dict[str, Any]:
        """An item as stored."""
        return self.connectors.item(connection_id, item_id)

    def delete_item(self, connection_id: str, item_id: str) -> None:
        """Delete an item (404 when it does not exist)."""
        self.connectors.delete_item(connection_id, item_id)

    def items(self, connection_id: str) -> dict[str, dict[str, Any]]:
        """The stored items of a connection by id (a shallow copy; do not mutate the items)."""
        return self.connectors.items(connection_id)

    def ignored_values(self, connection_id: str, item_id: str) -> list[IgnoredValue]:
        """The labelled values of an item's latest write that Graph would silently drop."""
        return self.connectors.ignored_values(connection_id, item_id)

    def write_count(self, connection_id: str) -> int:
        """How many item PUTs the connection accepted."""
        return self.connectors.write_count(connection_id)

    def delete_count(self, connection_id: str) -> int:
        """How many item DELETEs the connection accepted."""
        return self.connectors.delete_count(connection_id)

    # -- profile sources -------------------------------------------------------------------

    def create_profile_source(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a profile source from a validated POST body; 409 when sourceId is taken."""
        return self.people_settings.create_profile_source(body)

    def profile_sources(self) -> list[dict[str, Any]]:
        """Every profile source, in creation order."""
        return self.people_settings.profile_sources()

    def profile_source(self, source_id: str) -> dict[str, Any]:
        """A profile source by sourceId (or by its id)."""
        return self.people_settings.profile_source(source_id)

    def update_profile_source(self, source_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a validated PATCH to a profile source."""
        return self.people_settings.update_profile_source(source_id, body)

    def delete_profile_source(self, source_id: str) -> None:
        """Delete a profile source."""
        self.people_settings.delete_profile_source(source_id)

    # -- profile property settings ---------------------------------------------------------

    def property_settings(self) -> list[dict[str, Any]]:
        """Every profile property setting (the seeded org-wide entry first)."""
        return self.people_settings.property_settings()

    def create_property_setting(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a setting from a validated POST body; 409 when its name is taken."""
        return self.people_settings.create_property_setting(body)

    def property_setting(self, setting_id: str) -> dict[str, Any]:
        """A profile property setting by id."""
        return self.people_settings.property_setting(setting_id)

    def update_property_setting(self, setting_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a validated PATCH; the URL order given is kept as is."""
        return self.people_settings.update_property_setting(setting_id, body)

    def delete_property_setting(self, setting_id: str) -> None:
        """Delete a profile property setting."""
        self.people_settings.delete_property_setting(setting_id)
