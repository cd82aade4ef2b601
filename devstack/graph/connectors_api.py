"""The Graph connectors routes: external connections, their schema, operations and items."""

from __future__ import annotations

from devstack.graph.connectors_state import ConnectorsState
from devstack.graph.odata import (
    collection_response,
    context_url,
    entity_response,
    refuse,
    service_root,
)
from devstack.graph.rules.connections import check_connection
from devstack.graph.rules.enums import present_label, present_type
from devstack.graph.rules.items import check_item, check_item_id, check_item_size
from devstack.graph.rules.prefer import INCLUDE_UNKNOWN_ENUM_MEMBERS, prefers
from devstack.graph.rules.schema import check_schema, schema_properties
from devstack.standin import Request, Response

CONNECTION_ENTITY = "external/connections/$entity"
CONNECTIONS = "external/connections"


def _accepted(request: Request, connection_id: str, operation_id: str) -> Response:
    """A 202 whose `Location` names the connection's operation."""
    root = f"{service_root(request)}/{CONNECTIONS}/{connection_id}"
    return Response.empty(202, {"Location": f"{root}/operations/{operation_id}"})


class ConnectorsApi:
    """Route handlers for `/external/connections/...`: rules check, state keeps."""

    def __init__(self, state: ConnectorsState) -> None:
        """Answer from `state` (the connections, schemas, operations and items)."""
        self.state = state

    # -- connections -----------------------------------------------------------------------

    def create_connection(self, request: Request) -> Response:
        """`POST /external/connections`."""
        body = request.json()
        refuse(check_connection(body))
        return entity_response(201, request, CONNECTION_ENTITY, self.state.create_connection(body))

    def list_connections(self, request: Request) -> Response:
        """`GET /external/connections`."""
        return collection_response(request, CONNECTIONS, self.state.connections())

    def get_connection(self, request: Request) -> Response:
        """`GET /external/connections/{id}`."""
        found = self.state.connection(request.params["connectionId"])
        return entity_response(200, request, CONNECTION_ENTITY, found)

    def delete_connection(self, request: Request) -> Response:
        """`DELETE /external/connections/{id}`: 202 with the `Location` of its operation."""
        connection_id = request.params["connectionId"]
        operation_id = self.state.delete_connection(connection_id)
        return _accepted(request, connection_id, operation_id)

    # -- schema and operations -------------------------------------------------------------

    def patch_schema(self, request: Request) -> Response:
        """`PATCH .../schema`: 202 with the `Location` of the schema operation."""
        connection_id = request.params["connectionId"]
        connection = self.state.connection(connection_id)
        body = request.json()
        include = prefers(request.header("prefer"), INCLUDE_UNKNOWN_ENUM_MEMBERS)
        refuse(check_schema(body, connection.get("contentCategory"), include))
        operation_id = self.state.start_schema_operation(
            connection_id, body, schema_properties(body)
        )
        return _accepted(request, connection["id"], operation_id)

    def get_schema(self, request: Request) -> Response:
        """`GET .../schema`, evolvable enum members hidden unless the Prefer header asks."""
        connection_id = request.params["connectionId"]
        schema = self.state.schema(connection_id)
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
        context = context_url(request, f"external/connections('{connection_id}')/schema/$entity")
        payload = {"@odata.context": context, "baseType": schema["baseType"]}
        return Response.json(200, {**payload, "properties": properties}, headers)

    def get_operation(self, request: Request) -> Response:
        """`GET .../operations/{id}`: a schema operation's status."""
        found = self.state.operation(request.params["connectionId"], request.params["operationId"])
        return Response.json(200, found)

    # -- items -----------------------------------------------------------------------------

    def put_item(self, request: Request) -> Response:
        """`PUT .../items/{id}`: size, then schema readiness, id, body; records ignored values."""
        refuse([check_item_size(len(request.body))])
        connection_id, item_id = request.params["connectionId"], request.params["itemId"]
        schema, people = self.state.item_schema(connection_id)
        refuse([check_item_id(item_id)])
        body = request.json()
        verdict = check_item(item_id, body, schema, people)
        refuse(verdict.problems)
        body["id"] = item_id
        self.state.put_item(connection_id, item_id, body, verdict.ignored)
        return Response.empty(200)

    def get_item(self, request: Request) -> Response:
        """`GET .../items/{id}`: the item as stored."""
        found = self.state.item(request.params["connectionId"], request.params["itemId"])
        return Response.json(200, found)

    def delete_item(self, request: Request) -> Response:
        """`DELETE .../items/{id}`."""
        self.state.delete_item(request.params["connectionId"], request.params["itemId"])
        return Response.empty(204)
