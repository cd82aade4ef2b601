"""The Graph stand-in's Copilot connector state: connections, their schemas and operations, items.

Schema operations finish lazily: their status is worked out from the injected monotonic clock
whenever someone looks, so no timer thread is needed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack.graph.odata import conflict, not_found
from devstack.graph.rules.connections import PEOPLE
from devstack.graph.rules.items import IgnoredValue
from devstack.graph.rules.problems import INVALID_REQUEST, UPDATE_NOT_ALLOWED, Problem
from devstack.graph.rules.schema import SchemaProperty
from devstack.standin import HttpError

DEFAULT_SCHEMA_DELAY_S = 0.2


@dataclass
class _Operation:
    """A schema registration or a deletion: done at `ready_at`, installing `schema` if any."""

    id: str
    ready_at: float
    failure: Problem | None = None
    status: str = "inprogress"
    schema: dict[str, Any] | None = None
    properties: dict[str, SchemaProperty] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        error = None
        if self.status == "failed" and self.failure is not None:
            error = {"code": self.failure.code, "message": self.failure.message}
        return {"id": self.id, "status": self.status, "error": error}


@dataclass
class _Connection:
    body: dict[str, Any]
    state: str = "draft"
    schema: dict[str, Any] | None = None
    properties: dict[str, SchemaProperty] = field(default_factory=dict)
    pending: _Operation | None = None
    deleting: _Operation | None = None
    operations: dict[str, _Operation] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    ignored: dict[str, list[IgnoredValue]] = field(default_factory=dict)
    writes: int = 0
    deletes: int = 0

    @property
    def people(self) -> bool:
        return bool(self.body.get("contentCategory") == PEOPLE)

    def to_json(self) -> dict[str, Any]:
        return {**self.body, "state": self.state}


class ConnectorsState:
    """Thread-safe in-memory external connections, with their schemas, operations and items."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        schema_delay_s: float = DEFAULT_SCHEMA_DELAY_S,
        lock: threading.Lock | None = None,
    ) -> None:
        """Keep connections on `clock`.

        Args:
            clock: Monotonic seconds; schema operations complete `schema_delay_s` after start.
            schema_delay_s: How long a schema (or deletion) operation stays `inprogress`.
            lock: The lock guarding this state (default: its own).
        """
        self.clock = clock
        self.schema_delay_s = schema_delay_s
        self._lock = lock if lock is not None else threading.Lock()
        self._connections: dict[str, _Connection] = {}
        self._next_failure: Problem | None = None

    # -- connections ---------------------------------------------------------------------

    def _sweep(self) -> None:
        """Drop the connections whose deletion's time has come; settle the others' schemas."""
        for key, conn in list(self._connections.items()):
            if conn.deleting is not None and self.clock() >= conn.deleting.ready_at:
                conn.deleting.status = "completed"
                del self._connections[key]
            else:
                self._settle(conn)

    def _connection(self, connection_id: str) -> _Connection:
        self._sweep()
        conn = self._connections.get(connection_id.lower())
        if conn is None:
            raise not_found(f"The connection '{connection_id}' does not exist.")
        return conn

    def create_connection(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a connection from a validated POST body; 409 when the id is taken."""
        stored = {
            "id": body["id"],
            "name": body["name"],
            "description": body.get("description"),
            "contentCategory": body.get("contentCategory", "uncategorized"),
            "connectorId": body.get("connectorId"),
        }
        with self._lock:
            self._sweep()
            if body["id"].lower() in self._connections:
                raise conflict(f"A connection with id '{body['id']}' already exists.")
            conn = _Connection(stored)
            self._connections[body["id"].lower()] = conn
            return conn.to_json()

    def connection(self, connection_id: str) -> dict[str, Any]:
        """A connection's JSON."""
        with self._lock:
            return self._connection(connection_id).to_json()

    def connections(self) -> list[dict[str, Any]]:
        """Every connection's JSON, in creation order."""
        with self._lock:
            self._sweep()
            return [conn.to_json() for conn in self._connections.values()]

    def exists(self, connection_id: str) -> bool:
        """Whether the connection exists (a deletion whose time has come removes it)."""
        try:
            self.connection(connection_id)
        except HttpError:
            return False
        return True

    def delete_connection(self, connection_id: str) -> str:
        """Start deleting a connection with its schema and items; the operation's id.

        As in Graph, deletion is asynchronous (202 and an operation): the connection stays
        readable until `schema_delay_s` has passed, then is gone with its items. Asking
        again while it is being deleted answers the same operation.
        """
        with self._lock:
            conn = self._connection(connection_id)
            if conn.deleting is None:
                conn.deleting = _Operation(str(uuid.uuid4()), self.clock() + self.schema_delay_s)
                conn.operations[conn.deleting.id] = conn.deleting
            return conn.deleting.id

    # -- schema ----------------------------------------------------------------------------

    def fail_next_schema_operation(
        self, message: str = "The schema could not be provisioned.", code: str = "InternalError"
    ) -> None:
        """Make the next schema operation end `failed` with this error (a test knob)."""
        with self._lock:
            self._next_failure = Problem(500, code, message)

    def _settle(self, conn: _Connection) -> None:
        op = conn.pending
        if op is None or self.clock() < op.ready_at:
            return
        conn.pending = None
        if op.failure is not None:
            op.status = "failed"
            return
        op.status = "completed"
        conn.schema, conn.properties, conn.state = op.schema, op.properties, "ready"

    def start_schema_operation(
        self, connection_id: str, body: Mapping[str, Any], properties: list[SchemaProperty]
    ) -> str:
        """Start registering a validated schema; the new operation's id.

        A people connection's schema cannot change once registered or while registering
        (400 UpdateNotAllowed); other connections may replace theirs.
        """
        with self._lock:
            conn = self._connection(connection_id)
            if conn.pending is not None and not conn.people:
                raise conflict("A schema operation is already in progress.")
            if conn.people and (conn.pending is not None or conn.schema is not None):
                raise HttpError(
                    400,
                    f"The schema of people connection '{connection_id}' cannot be updated; "
                    "delete and recreate the connection to change it.",
                    UPDATE_NOT_ALLOWED,
                )
            op = _Operation(
                str(uuid.uuid4()),
                self.clock() + self.schema_delay_s,
                self._next_failure,
                schema={
                    "baseType": body["baseType"],
                    "properties": [dict(p) for p in body["properties"]],
                },
                properties={p.name: p for p in properties},
            )
            self._next_failure = None
            conn.pending = op
            conn.operations[op.id] = op
            self._settle(conn)
            return op.id

    def operation(self, connection_id: str, operation_id: str) -> dict[str, Any]:
        """A schema operation's JSON (`id`, `status`, `error`)."""
        with self._lock:
            op = self._connection(connection_id).operations.get(operation_id)
            if op is None:
                raise not_found(f"The operation '{operation_id}' does not exist.")
            return op.to_json()

    def schema(self, connection_id: str) -> dict[str, Any]:
        """The registered schema (404 until its operation completed)."""
        with self._lock:
            conn = self._connection(connection_id)
            if conn.schema is None:
                raise not_found(f"The connection '{connection_id}' has no schema registered.")
            return conn.schema

    # -- items -----------------------------------------------------------------------------

    def item_schema(self, connection_id: str) -> tuple[Mapping[str, SchemaProperty], bool]:
        """The properties items of a connection are checked against, and whether it is people."""
        with self._lock:
            conn = self._connection(connection_id)
            if conn.schema is None:
                status = "is still being registered" if conn.pending else "is not registered"
                raise HttpError(
                    409,
                    f"The schema of connection '{connection_id}' {status}; items can be "
                    "ingested once the schema operation has completed.",
                    INVALID_REQUEST,
                )
            return conn.properties, conn.people

    def put_item(
        self,
        connection_id: str,
        item_id: str,
        item: dict[str, Any],
        ignored: list[IgnoredValue],
    ) -> None:
        """Create or overwrite an item, recording the values Graph would ignore."""
        with self._lock:
            conn = self._connection(connection_id)
            conn.items[item_id] = item
            if ignored:
                conn.ignored[item_id] = ignored
            else:
                conn.ignored.pop(item_id, None)
            conn.writes += 1

    def item(self, connection_id: str, item_id: str) -> dict[str, Any]:
        """An item as stored."""
        with self._lock:
            found = self._connection(connection_id).items.get(item_id)
            if found is None:
                raise not_found(f"The item '{item_id}' does not exist.")
            return found

    def delete_item(self, connection_id: str, item_id: str) -> None:
        """Delete an item (404 when it does not exist)."""
        with self._lock:
            conn = self._connection(connection_id)
            if conn.items.pop(item_id, None) is None:
                raise not_found(f"The item '{item_id}' does not exist.")
            conn.ignored.pop(item_id, None)
            conn.deletes += 1

    def items(self, connection_id: str) -> dict[str, dict[str, Any]]:
        """The stored items of a connection by id (a shallow copy; do not mutate the items)."""
        with self._lock:
            return dict(self._connection(connection_id).items)

    def ignored_values(self, connection_id: str, item_id: str) -> list[IgnoredValue]:
        """The labelled values of an item's latest write that Graph would silently drop."""
        with self._lock:
            return list(self._connection(connection_id).ignored.get(item_id, []))

    def write_count(self, connection_id: str) -> int:
        """How many item PUTs the connection accepted."""
        with self._lock:
            return self._connection(connection_id).writes

    def delete_count(self, connection_id: str) -> int:
        """How many item DELETEs the connection accepted."""
        with self._lock:
            return self._connection(connection_id).deletes
