"""The rules for the people settings: profile sources and profile property settings (precedence)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from devstack.graph.rules.problems import Problem, invalid, require_object, unknown_fields

_SOURCE_FIELDS = {"id", "sourceId", "displayName", "kind", "webUrl", "localizations"}
_SETTING_FIELDS = {"id", "name", "displayName", "prioritizedSourceUrls"}


def check_profile_source(
    body: Any, *, creating: bool, source_id: str | None = None
) -> list[Problem]:
    """The rules for creating (POST) or updating (PATCH) a profileSource.

    Args:
        body: The parsed request body.
        creating: True for POST (sourceId and displayName required).
        source_id: On PATCH, the source's current sourceId (it cannot change).
    """
    if (problem := require_object(body, "profileSource")) is not None:
        return [problem]
    problems = unknown_fields(body, _SOURCE_FIELDS, "profileSource")
    if creating:
        if not isinstance(body.get("sourceId"), str) or not body["sourceId"].strip():
            problems.append(invalid("The profile source 'sourceId' is required."))
        elif "'" in body["sourceId"] or "/" in body["sourceId"]:
            problems.append(invalid("The profile source 'sourceId' must not contain ' or /."))
    elif "sourceId" in body and body["sourceId"] != source_id:
        problems.append(invalid("The profile source 'sourceId' cannot be updated."))
    if "id" in body and not creating:
        problems.append(invalid("The profile source 'id' cannot be updated."))
    if creating or "displayName" in body:
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            problems.append(invalid("The profile source 'displayName' is required."))
    if "kind" in body and body["kind"] is not None and not isinstance(body["kind"], str):
        problems.append(invalid("The profile source 'kind' must be a string."))
    if body.get("webUrl") is not None and not _is_https_url(body["webUrl"]):
        problems.append(invalid("The profile source 'webUrl' must be an https URL."))
    return problems


def check_property_setting(body: Any, *, creating: bool) -> list[Problem]:
    """The rules for creating (POST) or updating (PATCH) a profilePropertySetting."""
    if (problem := require_object(body, "profilePropertySetting")) is not None:
        return [problem]
    problems = unknown_fields(body, _SETTING_FIELDS, "profilePropertySetting")
    if "id" in body and not creating:
        problems.append(invalid("The profile property setting 'id' cannot be updated."))
    for key in ("name", "displayName"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems.append(invalid(f"The profile property setting '{key}' must be a string."))
    urls = body.get("prioritizedSourceUrls")
    if creating and urls is None:
        urls = []
    if "prioritizedSourceUrls" in body or creating:
        if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            problems.append(invalid("'prioritizedSourceUrls' must be a list of strings."))
        elif len({u.lower() for u in urls}) != len(urls):
            problems.append(invalid("'prioritizedSourceUrls' must not repeat a URL."))
    return problems


def _is_https_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.netloc)
