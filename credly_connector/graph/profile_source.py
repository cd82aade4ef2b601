"""The Credly profile source: how it is registered, and its place in the profile precedence.

Pure functions: the body `graph.provisioning` sends, and the `prioritizedSourceUrls` list of
the organisation-wide profile property setting, reordered without losing anyone's entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from credly_connector.settings import CREDLY_PRODUCTION_WEB_URL

SOURCE_DISPLAY_NAME = "Credly"
SOURCE_URL = "https://graph.microsoft.com/v1.0/admin/people/profileSources(sourceId='{}')"
"""How `prioritizedSourceUrls` names a profile source (whatever Graph root we talk to)."""


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
