"""Graph admin calls for setup and health: the connection, its schema, the profile source.

Requests are shaped by pure functions (bodies, the source URL, schema comparison, the
precedence order) and sent through `GraphClient.send`, so they share its adapter, token,
retries and error translation (`graph.errors`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kiota_abstractions.base_request_builder import BaseRequestBuilder
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.external.connections.item.external_connection_item_request_builder import (
    ExternalConnectionItemRequestBuilder,
)

from credly_connector.errors import NotFoundError, RequestError
from credly_connector.graph.client import GraphClient
from credly_connector.retry import NO_RETRY
from credly_connector.settings import CREDLY_PRODUCTION_WEB_URL

PREFER_UNKNOWN_ENUM_MEMBERS = "include-unknown-enum-members"
EXTERNAL_ITEM = "microsoft.graph.externalItem"
PEOPLE = "people"
SOURCE_DISPLAY_NAME = "Credly"
SOURCE_URL = "https://graph.microsoft.com/v1.0/admin/people/profileSources(sourceId='{}')"
"""How `prioritizedSourceUrls` names a profile source (whatever Graph root we talk to)."""


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


# -- requests as data ----------------------------------------------------------------------


def connection_body(connection_id: str) -> dict[str, Any]:
    """The `POST /external/connections` body of the connector's people connection."""
    return {
        "id": connection_id,
        "name": "Credly badges",
        "description": "Verified Credly badges, certifications and awards on profiles",
        "contentCategory": PEOPLE,
    }


def schema_body(properties: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `PATCH .../schema` body for these properties."""
    return {"baseType": EXTERNAL_ITEM, "properties": [dict(p) for p in properties]}


def source_url(connection_id: str) -> str:
    """The precedence URL of the profile source registered for a connection."""
    return SOURCE_URL.format(connection_id.replace("'", "''"))


def source_web_url(web_url: str) -> str:
    """The profile source's `webUrl`: the Credly site, or production's for a non-https one.

    Graph takes https links only; an http Credly URL can only be a loopback stand-in.
    """
    return web_url if urlsplit(web_url).scheme == "https" else CREDLY_PRODUCTION_WEB_URL


def profile_source_body(connection_id: str, web_url: str) -> dict[str, Any]:
    """The `POST /admin/people/profileSources` body for the connection."""
    return {
        "sourceId": connection_id,
        "displayName": SOURCE_DISPLAY_NAME,
        "kind": SOURCE_DISPLAY_NAME,
        "webUrl": source_web_url(web_url),
    }


def source_changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `wanted` (sourceId aside) that the registered source has otherwise."""
    return {k: v for k, v in wanted.items() if k != "sourceId" and current.get(k) != v}


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


def org_wide_setting(settings: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The organisation-wide profile property setting: the one without a name."""
    return next((s for s in settings if not s.get("name")), None)


def precedence(setting: Mapping[str, Any] | None) -> list[str]:
    """A setting's `prioritizedSourceUrls` (empty when there is no setting)."""
    urls = (setting or {}).get("prioritizedSourceUrls") or []
    return [str(u) for u in urls]


def with_source_first(urls: Sequence[str], url: str) -> list[str]:
    """`url` first, then every other entry in its order (Graph compares URLs case-blind)."""
    return [url, *(u for u in urls if u.casefold() != url.casefold())]


def is_first(urls: Sequence[str], url: str) -> bool:
    """Whether `url` leads the precedence list."""
    return bool(urls) and urls[0].casefold() == url.casefold()


def without_source(urls: Sequence[str], url: str) -> list[str]:
    """Every entry but `url`, in their order."""
    return [u for u in urls if u.casefold() != url.casefold()]


def with_source_replaced(urls: Sequence[str], old: str, new: str) -> list[str]:
    """`new` where `old` stood (same position), `new` listed once; unchanged without `old`."""
    if not any(u.casefold() == old.casefold() for u in urls):
        return list(urls)
    swapped: list[str] = []
    for u in urls:
        entry = new if u.casefold() == old.casefold() else u
        if all(entry.casefold() != s.casefold() for s in swapped):
            swapped.append(entry)
    return swapped


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

    Args:
        graph: The client whose adapter, retries and error translation are used.
    """

    def __init__(self, graph: GraphClient) -> None:
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
        operation_id = location.rstrip("/").rpartition("/operations/")[2]
        if not operation_id or "/" in operation_id:
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
