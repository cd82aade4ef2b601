"""Graph admin calls for setup and health: the connection, its schema, the profile source.

Requests are shaped by pure functions (the connection's body here, the schema's in
`graph.schema`, the profile source's and its precedence in `graph.profile_source`) and sent
through `GraphClient.send`, so they share its adapter, token, retries and error translation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from kiota_abstractions.base_request_builder import BaseRequestBuilder
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.external.connections.item.external_connection_item_request_builder import (
    ExternalConnectionItemRequestBuilder,
)

from credly_connector.errors import NotFoundError, RequestError
from credly_connector.graph.client import GraphClient
from credly_connector.graph.schema import PREFER_UNKNOWN_ENUM_MEMBERS, SchemaOperation, schema_body
from credly_connector.retry import NO_RETRY

PEOPLE = "people"


# -- requests as data ----------------------------------------------------------------------


def connection_body(connection_id: str) -> dict[str, Any]:
    """The `POST /external/connections` body of the connector's people connection."""
    return {
        "id": connection_id,
        "name": "Credly badges",
        "description": "Verified Credly badges, certifications and awards on profiles",
        "contentCategory": PEOPLE,
    }


def operation_id_of(location: str) -> str:
    """The operation id at the end of a `Location` header ('' when it names none)."""
    operation_id = location.rstrip("/").rpartition("/operations/")[2]
    return "" if "/" in operation_id else operation_id


def _json_request(
    method: Method, builder: BaseRequestBuilder, body: Mapping[str, Any], **headers: str
) -> RequestInformation:
    # Built by hand rather than from SDK models, so the body is exactly what we shaped.
    info = RequestInformation(method, builder.url_template, builder.path_parameters)
    info.headers.try_add("Accept", "application/json")
    for name, value in headers.items():
        info.headers.try_add(name, value)
    info.set_stream_content(json.dumps(body, separators=(",", ":")).encode(), "application/json")
    return info


def _clean(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if not k.startswith("@odata.")}


# -- the calls -----------------------------------------------------------------------------


class ProvisioningClient:
    """The admin calls setup and health make, over a `GraphClient`.

    Kinds (for `on_request` and error fixes) start with `connections.` or `people.`, so a
    403 names `ExternalConnection.ReadWrite.OwnedBy` or `PeopleSettings.ReadWrite.All`.
    """

    def __init__(self, graph: GraphClient) -> None:
        """Send the admin calls through `graph`.

        Args:
            graph: The client whose adapter, retries and error translation are used.
        """
        self.graph = graph
        self._service = graph.service

    async def get_connection(self, connection_id: str) -> dict[str, Any] | None:
        """The connection (`state`, `contentCategory`...), None if absent."""
        return await self.graph.get_connection(connection_id)

    async def create_connection(self, connection_id: str) -> dict[str, Any]:
        """Create the people connection (a 409 raises `ConflictError`: it exists)."""
        builder = self._service.external.connections
        body = connection_body(connection_id)
        payload = await self.graph.send_json(
            "POST", "connections.create", lambda: _json_request(Method.POST, builder, body)
        )
        return _clean(payload)

    async def get_schema(self, connection_id: str) -> dict[str, Any] | None:
        """The registered schema with evolvable labels shown, None while none is registered."""
        builder = self._connection(connection_id).schema

        def request() -> RequestInformation:
            info = builder.to_get_request_information()
            info.headers.try_add("Prefer", PREFER_UNKNOWN_ENUM_MEMBERS)
            return info

        try:
            payload = await self.graph.send_json("GET", "connections.schema.get", request)
        except NotFoundError:
            return None
        return _clean(payload) if payload.get("properties") else None

    async def register_schema(
        self, connection_id: str, properties: Sequence[Mapping[str, Any]]
    ) -> str:
        """Start registering the schema; the id of the operation to follow.

        Sent once: a people schema cannot be sent twice, so a failure is not retried blind.
        """
        builder = self._connection(connection_id).schema
        body = schema_body(properties)

        def request() -> RequestInformation:
            return _json_request(Method.PATCH, builder, body, Prefer=PREFER_UNKNOWN_ENUM_MEMBERS)

        response = await self.graph.send(
            "PATCH", "connections.schema.patch", request, retry=NO_RETRY
        )
        location = str(response.headers.get("Location", ""))
        operation_id = operation_id_of(location)
        if not operation_id:
            raise RequestError(f"Graph answered the schema PATCH without an operation: {location}")
        return operation_id

    async def get_operation(self, connection_id: str, operation_id: str) -> SchemaOperation:
        """A schema operation's status and error."""
        builder = self._connection(connection_id).operations.by_connection_operation_id(
            operation_id
        )
        payload = await self.graph.send_json(
            "GET", "connections.operations.get", builder.to_get_request_information
        )
        error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
        return SchemaOperation(
            id=str(payload.get("id") or operation_id),
            status=str(payload.get("status") or "unspecified").lower(),
            error_code=str((error or {}).get("code") or ""),
            error_message=str((error or {}).get("message") or ""),
        )

    async def delete_connection(self, connection_id: str) -> str | None:
        """Start deleting a connection and its items; the operation to follow.

        Returns:
            The operation id when Graph answered 202, '' when it deleted at once (204), None
            when the connection did not exist.
        """
        builder = self._connection(connection_id)
        try:
            response = await self.graph.send(
                "DELETE", "connections.delete", builder.to_delete_request_information
            )
        except NotFoundError:
            return None
        if response.status_code != 202:
            return ""
        return operation_id_of(str(response.headers.get("Location", "")))

    async def delete_profile_source(self, source_id: str) -> bool:
        """Delete the profile source with this sourceId; False when it did not exist."""
        builder = self._service.admin.people.profile_sources_with_source_id(source_id)
        try:
            await self.graph.send(
                "DELETE", "people.sources.delete", builder.to_delete_request_information
            )
        except NotFoundError:
            return False
        return True

    async def get_profile_source(self, source_id: str) -> dict[str, Any] | None:
        """The profile source with this sourceId, None if absent."""
        builder = self._service.admin.people.profile_sources_with_source_id(source_id)
        try:
            payload = await self.graph.send_json(
                "GET", "people.sources.get", builder.to_get_request_information
            )
        except NotFoundError:
            return None
        return _clean(payload)

    async def create_profile_source(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Register a profile source (a 409 raises `ConflictError`: it exists)."""
        builder = self._service.admin.people.profile_sources
        payload = await self.graph.send_json(
            "POST", "people.sources.create", lambda: _json_request(Method.POST, builder, body)
        )
        return _clean(payload)

    async def update_profile_source(self, source_id: str, changes: Mapping[str, Any]) -> None:
        """Patch a profile source's fields."""
        builder = self._service.admin.people.profile_sources_with_source_id(source_id)
        await self.graph.send(
            "PATCH", "people.sources.update", lambda: _json_request(Method.PATCH, builder, changes)
        )

    async def property_settings(self) -> list[dict[str, Any]]:
        """Every profile property setting (the org-wide one has no name)."""
        builder = self._service.admin.people.profile_property_settings
        payload = await self.graph.send_json(
            "GET", "people.settings.list", builder.to_get_request_information
        )
        return [_clean(s) for s in payload.get("value") or [] if isinstance(s, dict)]

    async def create_org_wide_setting(self, urls: Sequence[str]) -> dict[str, Any]:
        """Create the organisation-wide setting with this precedence."""
        builder = self._service.admin.people.profile_property_settings
        body = {"prioritizedSourceUrls": list(urls)}
        payload = await self.graph.send_json(
            "POST", "people.settings.create", lambda: _json_request(Method.POST, builder, body)
        )
        return _clean(payload)

    async def set_precedence(self, setting_id: str, urls: Sequence[str]) -> None:
        """Replace a setting's `prioritizedSourceUrls` (same body every try: safe to retry)."""
        builder = (
            self._service.admin.people.profile_property_settings.by_profile_property_setting_id(
                setting_id
            )
        )
        body = {"prioritizedSourceUrls": list(urls)}
        await self.graph.send(
            "PATCH", "people.settings.update", lambda: _json_request(Method.PATCH, builder, body)
        )

    def _connection(self, connection_id: str) -> ExternalConnectionItemRequestBuilder:
        return self._service.external.connections.by_external_connection_id(connection_id)
