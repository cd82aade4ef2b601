"""The people-settings routes and their state: profile sources and property settings (precedence).

A new tenant starts with the org-wide property setting (no name) listing only the Entra ID
source, `ENTRA_SOURCE_URL`. Bodies are checked by `rules.people_settings`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from devstack.graph.odata import collection_response, entity_response
from devstack.graph.rules.people_settings import check_profile_source, check_property_setting
from devstack.graph.rules.problems import conflict, not_found, refuse
from devstack.standin import Request, Response

ENTRA_SOURCE_ID = "4ce763dd-9214-4eff-af7c-da491cc3782d"
ENTRA_SOURCE_URL = (
    f"https://graph.microsoft.com/v1.0/admin/people/profileSources(sourceId='{ENTRA_SOURCE_ID}')"
)
"""The Entra ID default source the seeded org-wide precedence entry lists."""
PROPERTY_SETTINGS = "admin/people/profilePropertySettings"
_SOURCE_FIELDS = ("displayName", "kind", "webUrl", "localizations")


def _source_key(request: Request) -> str:
    """The sourceId from the URL (a quoted key doubles its single quotes)."""
    return request.params["sourceId"].replace("''", "'")


def _copy(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry with its lists copied, so callers cannot change the state through it."""
    return {k: [*v] if isinstance(v, list) else v for k, v in entry.items()}


class PeopleSettingsState:
    """Thread-safe in-memory profile sources and property settings, and their route handlers."""

    def __init__(self, clock: Callable[[], float]) -> None:
        """Seed the org-wide setting; note source registrations on the monotonic `clock`."""
        self._clock = clock
        self._lock = threading.Lock()
        self._sources: dict[str, dict[str, Any]] = {}
        self._registered: dict[str, float] = {}
        seed: dict[str, Any] = {"id": str(uuid.uuid4()), "name": None, "displayName": None}
        self._settings = {seed["id"]: {**seed, "prioritizedSourceUrls": [ENTRA_SOURCE_URL]}}

    # -- state, for the handlers, the item gate and tests ----------------------------------

    def _source(self, source_id: str) -> dict[str, Any]:
        found = self._sources.get(source_id.lower())
        if found is None:
            raise not_found(f"The profile source '{source_id}' does not exist.")
        return found

    def _setting(self, setting_id: str) -> dict[str, Any]:
        found = self._settings.get(setting_id)
        if found is None:
            raise not_found(f"The profile property setting '{setting_id}' does not exist.")
        return found

    def registered_at(self, source_id: str) -> float | None:
        """When a profile source with this sourceId was registered (it may be deleted since)."""
        with self._lock:
            return self._registered.get(source_id.lower())

    def profile_sources(self) -> list[dict[str, Any]]:
        """Every profile source, in creation order."""
        with self._lock:
            return [_copy(s) for s in self._sources.values()]

    def profile_source(self, source_id: str) -> dict[str, Any]:
        """A profile source by sourceId."""
        with self._lock:
            return _copy(self._source(source_id))

    def property_settings(self) -> list[dict[str, Any]]:
        """Every profile property setting (the seeded org-wide entry first)."""
        with self._lock:
            return [_copy(s) for s in self._settings.values()]

    def property_setting(self, setting_id: str) -> dict[str, Any]:
        """A profile property setting by id."""
        with self._lock:
            return _copy(self._setting(setting_id))

    def create_property_setting(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a setting from a validated POST body; 409 when its name is taken."""
        with self._lock:
            self._check_name_free(body.get("name"), None)
            setting = {"id": str(uuid.uuid4()), "name": body.get("name")}
            setting["displayName"] = body.get("displayName")
            setting["prioritizedSourceUrls"] = list(body.get("prioritizedSourceUrls") or [])
            self._settings[setting["id"]] = setting
            return _copy(setting)

    def update_property_setting(self, setting_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a validated PATCH; the URL order given is kept as is."""
        with self._lock:
            setting = self._setting(setting_id)
            if "name" in body:
                self._check_name_free(body["name"], setting_id)
            setting |= {k: body[k] for k in ("name", "displayName") if k in body}
            if "prioritizedSourceUrls" in body:
                setting["prioritizedSourceUrls"] = list(body["prioritizedSourceUrls"])
            return _copy(setting)

    def _check_name_free(self, name: str | None, except_id: str | None) -> None:
        key = (name or "").lower()
        for setting in self._settings.values():
            if setting["id"] != except_id and (setting["name"] or "").lower() == key:
                what = f"named '{name}'" if name else "without a name (org-wide)"
                raise conflict(f"A profile property setting {what} already exists.")

    # -- profile sources -------------------------------------------------------------------

    def create_source(self, request: Request) -> Response:
        """`POST /admin/people/profileSources` (409 when the sourceId is taken)."""
        body = request.json()
        refuse(check_profile_source(body, creating=True))
        key = body["sourceId"].lower()
        with self._lock:
            if key in self._sources:
                raise conflict(f"A profile source with sourceId '{body['sourceId']}' exists.")
            source = {"id": str(uuid.uuid4()), "sourceId": body["sourceId"]}
            source |= {k: body.get(k) for k in _SOURCE_FIELDS}
            source["localizations"] = source["localizations"] or []
            self._sources[key], self._registered[key] = source, self._clock()
            created = _copy(source)
        return entity_response(201, request, "admin/people/profileSources/$entity", created)

    def get_source(self, request: Request) -> Response:
        """`GET` a profile source by sourceId."""
        return Response.json(200, self.profile_source(_source_key(request)))

    def update_source(self, request: Request) -> Response:
        """`PATCH` a profile source (404 before the body is looked at)."""
        current = self.profile_source(_source_key(request))
        body = request.json()
        refuse(check_profile_source(body, creating=False, source_id=current["sourceId"]))
        with self._lock:
            source = self._source(current["sourceId"])
            source |= {k: body[k] for k in _SOURCE_FIELDS if k in body}
            return Response.json(200, _copy(source))

    def delete_source(self, request: Request) -> Response:
        """`DELETE` a profile source."""
        with self._lock:
            source = self._source(_source_key(request))
            del self._sources[source["sourceId"].lower()]
        return Response.empty(204)

    # -- profile property settings -----------------------------------------------------------

    def list_settings(self, request: Request) -> Response:
        """`GET /admin/people/profilePropertySettings`."""
        return collection_response(request, PROPERTY_SETTINGS, self.property_settings())

    def create_setting(self, request: Request) -> Response:
        """`POST /admin/people/profilePropertySettings`."""
        body = request.json()
        refuse(check_property_setting(body, creating=True))
        return Response.json(201, self.create_property_setting(body))

    def get_setting(self, request: Request) -> Response:
        """`GET` a profile property setting by id."""
        return Response.json(200, self.property_setting(request.params["settingId"]))

    def update_setting(self, request: Request) -> Response:
        """`PATCH` a profile property setting (404 before the body is looked at)."""
        setting_id = request.params["settingId"]
        self.property_setting(setting_id)
        body = request.json()
        refuse(check_property_setting(body, creating=False))
        return Response.json(200, self.update_property_setting(setting_id, body))
