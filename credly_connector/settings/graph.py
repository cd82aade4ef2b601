"""The Graph section: the connection id Graph accepts, and one way to authenticate."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from credly_connector.settings.model import (
    DEFAULT_CONNECTION_ID,
    DEFAULT_GRAPH_API_URL,
    LOOPBACK_HOSTS,
    GraphSettings,
)
from credly_connector.settings.values import ValueReader

# Connection ids Microsoft keeps for its own sources (compared ignoring case).
RESERVED_CONNECTION_IDS = frozenset(
    name.casefold()
    for name in [
        "None",
        "Directory",
        "Exchange",
        "ExchangeArchive",
        "LinkedIn",
        "Mailbox",
        "OneDriveBusiness",
        "SharePoint",
        "Teams",
        "Yammer",
        "Connectors",
        "TaskFabric",
        "PowerBI",
        "Assistant",
        "TopicEngine",
        "MSFT_All_Connectors",
    ]
)


def connection_id_problem(value: str) -> str | None:
    """Why Graph would refuse `value` as a connection id, or None."""
    if not (3 <= len(value) <= 32 and value.isascii() and value.isalnum()):
        return f"{value!r} is not 3-32 letters and digits"
    if value.casefold().startswith("microsoft") or value.casefold() in RESERVED_CONNECTION_IDS:
        return f"{value!r} is reserved by Microsoft"
    return None


def read_graph(r: ValueReader) -> GraphSettings:
    """The Graph section: where Graph is, the connection, and the credentials to use."""
    api_url = r.url("GRAPH_API_URL", DEFAULT_GRAPH_API_URL)
    connection_id = r.text("GRAPH_CONNECTION_ID") or DEFAULT_CONNECTION_ID
    if reason := connection_id_problem(connection_id):
        fix = (
            f"use 3-32 letters and digits not starting with Microsoft, e.g. {DEFAULT_CONNECTION_ID}"
        )
        r.problem("GRAPH_CONNECTION_ID", reason, fix)
    tenant_id = r.guid(
        "AZURE_TENANT_ID", "copy the Directory (tenant) ID, a GUID, from the Entra admin center"
    )
    client_id, secret = r.text("AZURE_CLIENT_ID"), r.text("AZURE_CLIENT_SECRET")
    token = r.text("GRAPH_ACCESS_TOKEN")
    if token and api_url and urlsplit(api_url).hostname not in LOOPBACK_HOSTS:
        r.problem(
            "GRAPH_ACCESS_TOKEN",
            "is for the local stand-ins only, but GRAPH_API_URL is not on 127.0.0.1/localhost",
            "remove GRAPH_ACCESS_TOKEN and use AZURE_CLIENT_SECRET or a managed identity",
        )
    if token and secret:
        r.problem(
            "GRAPH_ACCESS_TOKEN",
            "is set together with AZURE_CLIENT_SECRET",
            "keep only one way to authenticate to Graph",
        )
    if secret:
        for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID"):
            if r.text(name) is None:
                fix = f"set {name} to the app registration's {name.split('_')[1].lower()} id"
                r.problem(name, "is required with AZURE_CLIENT_SECRET", fix)
    ca_file = r.text("GRAPH_CA_FILE")
    if ca_file and not Path(ca_file).is_file():
        fix = "point it at an existing PEM CA bundle, or leave it empty"
        r.problem("GRAPH_CA_FILE", f"{ca_file!r} is not a file", fix)
    return GraphSettings(
        api_url=api_url or DEFAULT_GRAPH_API_URL,
        connection_id=connection_id,
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=secret,
        access_token=token,
        ca_file=Path(ca_file) if ca_file else None,
    )
