"""The Graph connectors routes and their state: external connections, schemas, operations, items.

Schema registrations and connection deletions are operations that finish lazily: their status
is worked out from the injected monotonic clock whenever someone looks, so no timer thread is
needed. Bodies are checked by `rules` before anything is kept.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack.graph.odata import (
    collection_response,
    context_url,
    entity_response,
    service_root,
)
from devstack.graph.rules.connections import PEOPLE, check_connection
from devstack.graph.rules.enums import present_label, present_type
from devstack.graph.rules.items import IgnoredValue, check_item, check_item_id, check_item_size
from devstack.graph.rules.prefer import INCLUDE_UNKNOWN_ENUM_MEMBERS, prefers
from devstack.graph.rules.problems import (
    INVALID_REQUEST,
    UPDATE_NOT_ALLOWED,
    conflict,
    not_found,
    refuse,
)
from devstack.graph.rules.schema import SchemaProperty, check_schema, schema_properties
from devstack.standin import HttpError, Request, Response

DEFAULT_SCHEMA_DELAY_S = 0.2
CONNECTIONS = "external/connections"


@dataclass
class _Operation:
    """A schema registration or a deletion: done at `ready_at`, installing `schema` if any."""

    id: str
    ready_at: float
    failure: HttpError | None = None
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


def _accepted(request: Request, connection_id: str, operation_id: str) -> Response:
    """A 202 whose `Location` names the connection's operation."""
    root = f"{service_root(request)}/{CONNECTIONS}/{connection_id}"
    return Response.empty(202, {"Location": f"{root}/operations/{operation_id}"})


class ConnectorsState:
    """Thread-safe in-memory external connections, and the route handlers that serve them."""

    def __init__(self, clock: Callable[[], float], schema_delay_s: float) -> None:
        """Keep connections on `clock`; operations stay `inprogress` for `schema_delay_s`."""
        self.clock = clock
        self.schema_delay_s = schema_delay_s
        self._lock = threading.Lock()
        self._connections: dict[str, _Connection] = {}
        self._next_failure: HttpError | None = None

    # -- state, for the handlers and for tests ---------------------------------------------

    def _sweep(self) -> None:
        """Drop the connections whose deletion's time has come; settle the others' schemas."""
        for key, conn in list(self._connections.items()):
            if conn.deleting is not None and self.clock() >= conn.deleting.ready_at:
                conn.deleting.status = "completed"
                del self._connections[key]
            elif (op := conn.pending) is not None and self.clock() >= op.ready_at:
                conn.pending, op.status = None, "failed" if op.failure else "completed"
                if op.failure is None:
                    conn.schema, conn.properties, conn.state = op.schema, op.properties, "ready"

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
            conn = self._connections[body["id"].lower()] = _Connection(stored)
            return conn.to_json()

    def connection(self, connection_id: str) -> dict[str, Any]:
        """A connection's JSON."""
        with self._lock:
            return self._connection(connection_id).to_json()

    def exists(self, connection_id: str) -> bool:
        """Whether the connection exists (a deletion whose time has come removes it)."""
        with self._lock:
            self._sweep()
            return connection_id.lower() in self._connections

    def schema(self, connection_id: str) -> dict[str, Any]:
        """The registered schema (404 until its operation completed)."""
        with self._lock:
            conn = self._connection(connection_id)
            if conn.schema is None:
                raise not_found(f"The connection '{connection_id}' has no schema registered.")
            return conn.schema

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
            conn.pending = conn.operations[op.id] = op
            self._next_failure = None
            self._sweep()  # settles at once when there is no delay
            return op.id

    def fail_next_schema_operation(
        self, message: str = "The schema could not be provisioned.", code: str = "InternalError"
    ) -> None:
        """Make the next schema operation end `failed` with this error (a test knob)."""
        with self._lock:
            self._next_failure = HttpError(500, message, code)

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

    # -- connections -----------------------------------------------------------------------

    def post_connection(self, request: Request) -> Response:
        """`POST /external/connections`."""
        body = request.json()
        refuse(check_connection(body))
        created = self.create_connection(body)
        return entity_response(201, request, f"{CONNECTIONS}/$entity", created)

    def list_connections(self, request: Request) -> Response:
        """`GET /external/connections`, in creation order."""
        with self._lock:
            self._sweep()
            found = [conn.to_json() for conn in self._connections.values()]
        return collection_response(request, CONNECTIONS, found)

    def get_connection(self, request: Request) -> Response:
        """`GET /external/connections/{id}`."""
        found = self.connection(request.params["connectionId"])
        return entity_response(200, request, f"{CONNECTIONS}/$entity", found)

    def delete_connection(self, request: Request) -> Response:
        """`DELETE /external/connections/{id}`: 202 with the `Location` of its operation.

        As in Graph, the connection stays readable until `schema_delay_s` has passed, then is
        gone with its items; asking again meanwhile answers the same operation.
        """
        connection_id = request.params["connectionId"]
        with self._lock:
            conn = self._connection(connection_id)
            if conn.deleting is None:
                conn.deleting = _Operation(str(uuid.uuid4()), self.clock() + self.schema_delay_s)
                conn.operations[conn.deleting.id] = conn.deleting
            return _accepted(request, connection_id, conn.deleting.id)

    # -- schema and operations -------------------------------------------------------------

    def patch_schema(self, request: Request) -> Response:
        """`PATCH .../schema`: 202 with the `Location` of the schema operation."""
        connection_id = request.params["connectionId"]
        connection = self.connection(connection_id)
        body = request.json()
        include = prefers(request.header("prefer"), INCLUDE_UNKNOWN_ENUM_MEMBERS)
        refuse(check_schema(body, connection.get("contentCategory"), include))
        operation_id = self.start_schema_operation(connection_id, body, schema_properties(body))
        return _accepted(request, connection["id"], operation_id)

    def get_schema(self, request: Request) -> Response:
        """`GET .../schema`, evolvable enum members hidden unless the Prefer header asks."""
        connection_id = request.params["connectionId"]
        schema = self.schema(connection_id)
        include = prefers(request.header("prefer"), INCLUDE_UNKNOWN_ENUM_MEMBERS)
        properties = [
            {
                **prop,
                "type": present_type(prop["type"], include),
                "labels": [present_label(x, include) for x in prop.get("labels", [])],
            }
            for prop in schema["properties"]
        ]
        headers = {"Preference-Applied": INCLUDE_UNKNOWN_ENUM_MEMBERS} if include else {}
        context = context_url(request, f"{CONNECTIONS}('{connection_id}')/schema/$entity")
        payload = {"@odata.context": context, "baseType": schema["baseType"]}
        return Response.json(200, {**payload, "properties": properties}, headers)

    def get_operation(self, request: Request) -> Response:
        """`GET .../operations/{id}`: a schema or deletion operation's status."""
        operation_id = request.params["operationId"]
        with self._lock:
            op = self._connection(request.params["connectionId"]).operations.get(operation_id)
            if op is None:
                raise not_found(f"The operation '{operation_id}' does not exist.")
            return Response.json(200, op.to_json())

    # -- items -----------------------------------------------------------------------------

    def put_item(self, request: Request) -> Response:
        """`PUT .../items/{id}`: size, then schema readiness, id, body; records ignored values."""
        refuse([check_item_size(len(request.body))])
        connection_id, item_id = request.params["connectionId"], request.params["itemId"]
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
            schema, people = conn.properties, conn.people
        refuse([check_item_id(item_id)])
        body = request.json()
        verdict = check_item(item_id, body, schema, people)
        refuse(verdict.problems)
        body["id"] = item_id
        with self._lock:
            conn = self._connection(connection_id)
            conn.items[item_id] = body
            conn.ignored[item_id] = verdict.ignored
            conn.writes += 1
        return Response.empty(200)

    def delete_item(self, request: Request) -> Response:
        """`DELETE .../items/{id}` (404 when it does not exist)."""
        item_id = request.params["itemId"]
        with self._lock:
            conn = self._connection(request.params["connectionId"])
            if conn.items.pop(item_id, None) is None:
                raise not_found(f"The item '{item_id}' does not exist.")
            conn.ignored.pop(item_id, None)
            conn.deletes += 1
        return Response.empty(204)
