"""The Graph stand-in's service state: connector state and people settings behind one lock.

`GraphState` composes the parts, which handlers and tests use directly, each in the module
named after what it keeps: `connectors_state` (connections, schemas, operations,
items) and `people_settings_state` (profile sources, property settings). Refusals that depend
on state (not found, conflicts, a schema that cannot change) are raised as `StateError`
(`state_errors`) carrying the `Problem` to answer with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from devstack.graph.connectors_state import DEFAULT_SCHEMA_DELAY_S, ConnectorsState
from devstack.graph.people_settings_state import (
    ENTRA_SOURCE_ID,
    ENTRA_SOURCE_URL,
    PeopleSettingsState,
)
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

    Handlers and tests use the parts directly: `connectors` (`ConnectorsState`) and
    `people_settings` (`PeopleSettingsState`). Both share one lock.

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
