"""The Credly organisations to read: one from CREDLY_ORGANIZATION_ID, or CREDLY_ORGANIZATIONS.

Each organisation authenticates with an organization token or an OAuth client's id and
secret. CREDLY_ORGANIZATIONS is a JSON list naming, per organisation, the settings that hold
its credentials, so the secrets themselves stay in their own (Key Vault referenced) settings.
"""

from __future__ import annotations

import json
import uuid

from credly_connector.settings.model import CredlyOrganization
from credly_connector.settings.values import ValueReader

ORG_ID_FIX = (
    "copy the organization id (a GUID) from the Credly Developers portal "
    "(Settings > Developers / Organization ID)"
)
_LIST_FIX = (
    'set a JSON list such as [{"id": "<GUID>", "authTokenSetting": "CREDLY_TOKEN_ACME"}] or '
    '[{"id": "<GUID>", "clientIdSetting": "...", "clientSecretSetting": "..."}]; the secrets '
    "stay in the settings named there"
)
_ENTRY_KEYS = frozenset({"id", "authTokenSetting", "clientIdSetting", "clientSecretSetting"})
# (token, client id, client secret, and the three setting names they came from)
_Credentials = tuple[str | None, str | None, str | None, str, str, str]


def read_organizations(r: ValueReader) -> tuple[CredlyOrganization, ...]:
    """The configured organisations in order; none when a problem was found in them."""
    listed = r.text("CREDLY_ORGANIZATIONS")
    if listed is not None:
        return _read_list(r, listed)
    organization_id = r.guid("CREDLY_ORGANIZATION_ID", ORG_ID_FIX)
    if r.text("CREDLY_ORGANIZATION_ID") is None:
        r.problem("CREDLY_ORGANIZATION_ID", "is not set", ORG_ID_FIX)
    credentials = _read_credentials(
        r, "CREDLY_AUTH_TOKEN", "CREDLY_CLIENT_ID", "CREDLY_CLIENT_SECRET"
    )
    if organization_id is None or credentials is None:
        return ()
    return (CredlyOrganization(organization_id, *credentials),)


def _read_credentials(
    r: ValueReader, token_setting: str, id_setting: str, secret_setting: str
) -> _Credentials | None:
    """The credentials in the three named settings ("" names none), or None on a problem."""
    token = r.text(token_setting) if token_setting else None
    client_id = r.text(id_setting) if id_setting else None
    secret = r.text(secret_setting) if secret_setting else None
    if token and (client_id or secret):
        r.problem(
            token_setting,
            f"is set together with {id_setting}/{secret_setting}",
            "keep either the organization token or the OAuth client id and secret, not both",
        )
        return None
    if bool(client_id) != bool(secret):
        missing = (secret_setting if client_id else id_setting) or "CREDLY_ORGANIZATIONS"
        given = id_setting if client_id else secret_setting
        r.problem(missing, f"is not set but {given} is", f"set {missing} as well")
        return None
    if not (token or client_id):
        named = token_setting or id_setting
        r.problem(
            named,
            "no Credly credentials are set",
            f"set {token_setting or 'an auth token setting'} to an organization authorization "
            f"token, or set {id_setting or 'a client id setting'} and "
            f"{secret_setting or 'a client secret setting'} to an OAuth client's credentials",
        )
        return None
    return token, client_id, secret, token_setting, id_setting, secret_setting


def _read_list(r: ValueReader, listed: str) -> tuple[CredlyOrganization, ...]:
    """The organisations of CREDLY_ORGANIZATIONS that are valid, in order."""
    name = "CREDLY_ORGANIZATIONS"
    try:
        entries = json.loads(listed)
    except ValueError:
        r.problem(name, "is not valid JSON", _LIST_FIX)
        return ()
    if not isinstance(entries, list) or not entries:
        r.problem(name, "is not a non-empty JSON list", _LIST_FIX)
        return ()
    if r.text("CREDLY_ORGANIZATION_ID") is not None:
        r.problem(
            "CREDLY_ORGANIZATION_ID",
            "is set together with CREDLY_ORGANIZATIONS",
            "remove CREDLY_ORGANIZATION_ID; list every organisation in CREDLY_ORGANIZATIONS",
        )
    organizations: list[CredlyOrganization] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{name}[{number}]"
        if not isinstance(entry, dict):
            r.problem(name, f"entry {number} is not a JSON object", _LIST_FIX)
            continue
        unknown = sorted(set(entry) - _ENTRY_KEYS)
        if unknown:
            r.problem(name, f"entry {number} has unknown keys {unknown}", _LIST_FIX)
            continue
        settings = [entry.get(key, "") for key in sorted(_ENTRY_KEYS - {"id"})]
        if not all(isinstance(value, str) for value in [entry.get("id"), *settings]):
            r.problem(name, f"entry {number} has a value that is not a string", _LIST_FIX)
            continue
        try:
            organization_id = str(uuid.UUID(entry.get("id", "")))
        except ValueError:
            r.problem(name, f"{where}.id {entry.get('id')!r} is not a GUID", ORG_ID_FIX)
            continue
        if any(o.id == organization_id for o in organizations):
            r.problem(name, f"{where} repeats organisation {organization_id}", "list it once")
            continue
        credentials = _read_credentials(
            r,
            entry.get("authTokenSetting", ""),
            entry.get("clientIdSetting", ""),
            entry.get("clientSecretSetting", ""),
        )
        if credentials is not None:
            organizations.append(CredlyOrganization(organization_id, *credentials))
    return tuple(organizations)
