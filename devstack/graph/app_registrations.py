"""The stand-in tenant's app registrations: Graph's own ids, the connector's app, permissions."""

from __future__ import annotations

from dataclasses import dataclass

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
DEFAULT_CLIENT_ID = "0b9d6a51-3c2e-4f7a-8d1b-6e5f4a3c2b1d"
DEFAULT_CLIENT_SECRET = "standin-client-secret"

CONNECTIONS_READ_WRITE = frozenset(
    {"ExternalConnection.ReadWrite.OwnedBy", "ExternalConnection.ReadWrite.All"}
)
ITEMS_READ_WRITE = frozenset({"ExternalItem.ReadWrite.OwnedBy", "ExternalItem.ReadWrite.All"})
PEOPLE_SETTINGS_WRITE = frozenset({"PeopleSettings.ReadWrite.All"})
PEOPLE_SETTINGS_READ = PEOPLE_SETTINGS_WRITE | {"PeopleSettings.Read.All"}
USERS_READ = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
DEFAULT_ROLES = frozenset(
    {
        "ExternalConnection.ReadWrite.OwnedBy",
        "ExternalItem.ReadWrite.OwnedBy",
        "PeopleSettings.ReadWrite.All",
        "User.Read.All",
    }
)
"""The permissions the connector needs, granted to apps registered without explicit roles."""


@dataclass(frozen=True, slots=True)
class App:
    """An app registration: client id, secret, and granted application permissions."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    roles: frozenset[str] = DEFAULT_ROLES
    display_name: str = "Credly connector"
