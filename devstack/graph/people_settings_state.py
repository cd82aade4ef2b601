"""The Graph stand-in's people settings: profile sources and profile property settings."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Any

from devstack.graph.odata import conflict, not_found

ENTRA_SOURCE_ID = "4ce763dd-9214-4eff-af7c-da491cc3782d"
ENTRA_SOURCE_URL = (
    f"https://graph.microsoft.com/v1.0/admin/people/profileSources(sourceId='{ENTRA_SOURCE_ID}')"
)
"""The Entra ID default source the seeded org-wide precedence entry lists."""


class PeopleSettingsState:
    """Thread-safe in-memory profile sources and property settings (source precedence).

    Starts with the org-wide property setting (no name) listing only `ENTRA_SOURCE_URL`, as a
    new tenant does.
    """

    def __init__(self, lock: threading.Lock | None = None) -> None:
        """Keep the settings under `lock` (default: its own)."""
        self._lock = lock if lock is not None else threading.Lock()
        self._sources: dict[str, dict[str, Any]] = {}
        self._settings: dict[str, dict[str, Any]] = {}
        seed_id = str(uuid.uuid4())
        self._settings[seed_id] = {
            "id": seed_id,
            "name": None,
            "displayName": None,
            "prioritizedSourceUrls": [ENTRA_SOURCE_URL],
        }

    # -- profile sources -------------------------------------------------------------------

    def _source(self, source_id: str) -> dict[str, Any]:
        found = self._sources.get(source_id.lower())
        if found is None:
            raise not_found(f"The profile source '{source_id}' does not exist.")
        return found

    def create_profile_source(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a profile source from a validated POST body; 409 when sourceId is taken."""
        with self._lock:
            if body["sourceId"].lower() in self._sources:
                raise conflict(f"A profile source with sourceId '{body['sourceId']}' exists.")
            source = {
                "id": str(uuid.uuid4()),
                "sourceId": body["sourceId"],
                "displayName": body["displayName"],
                "kind": body.get("kind"),
                "webUrl": body.get("webUrl"),
                "localizations": [dict(x) for x in body.get("localizations") or []],
            }
            self._sources[body["sourceId"].lower()] = source
            return dict(source)

    def profile_sources(self) -> list[dict[str, Any]]:
        """Every profile source, in creation order."""
        with self._lock:
            return [dict(s) for s in self._sources.values()]

    def profile_source(self, source_id: str) -> dict[str, Any]:
        """A profile source by sourceId."""
        with self._lock:
            return dict(self._source(source_id))

    def update_profile_source(self, source_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a validated PATCH to a profile source."""
        with self._lock:
            source = self._source(source_id)
            for key in ("displayName", "kind", "webUrl", "localizations"):
                if key in body:
                    source[key] = body[key]
            return dict(source)

    def delete_profile_source(self, source_id: str) -> None:
        """Delete a profile source."""
        with self._lock:
            source = self._source(source_id)
            del self._sources[source["sourceId"].lower()]

    # -- profile property settings ---------------------------------------------------------

    def _setting(self, setting_id: str) -> dict[str, Any]:
        found = self._settings.get(setting_id)
        if found is None:
            raise not_found(f"The profile property setting '{setting_id}' does not exist.")
        return found

    def _check_name_free(self, name: str | None, except_id: str | None) -> None:
        key = (name or "").lower()
        for setting in self._settings.values():
            if setting["id"] != except_id and (setting["name"] or "").lower() == key:
                what = f"named '{name}'" if name else "without a name (org-wide)"
                raise conflict(f"A profile property setting {what} already exists.")

    def property_settings(self) -> list[dict[str, Any]]:
        """Every profile property setting (the seeded org-wide entry first)."""
        with self._lock:
            return [_copy_setting(s) for s in self._settings.values()]

    def create_property_setting(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a setting from a validated POST body; 409 when its name is taken."""
        with self._lock:
            self._check_name_free(body.get("name"), None)
            setting = {
                "id": str(uuid.uuid4()),
                "name": body.get("name"),
                "displayName": body.get("displayName"),
                "prioritizedSourceUrls": list(body.get("prioritizedSourceUrls") or []),
            }
            self._settings[str(setting["id"])] = setting
            return _copy_setting(setting)

    def property_setting(self, setting_id: str) -> dict[str, Any]:
        """A profile property setting by id."""
        with self._lock:
            return _copy_setting(self._setting(setting_id))

    def update_property_setting(self, setting_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a validated PATCH; the URL order given is kept as is."""
        with self._lock:
            setting = self._setting(setting_id)
            if "name" in body:
                self._check_name_free(body["name"], setting_id)
            for key in ("name", "displayName"):
                if key in body:
                    setting[key] = body[key]
            if "prioritizedSourceUrls" in body:
                setting["prioritizedSourceUrls"] = list(body["prioritizedSourceUrls"])
            return _copy_setting(setting)


def _copy_setting(setting: Mapping[str, Any]) -> dict[str, Any]:
    return {**setting, "prioritizedSourceUrls": list(setting["prioritizedSourceUrls"])}
