"""Both stand-ins around one synthetic world, provisioned, with the connector's settings."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests

from credly_connector.rules.items import PEOPLE_SCHEMA
from devstack.credly.server import CredlyStandIn
from devstack.graph.server import GraphStandIn
from devstack.standin import Knobs
from devstack.synthetic import World

CONNECTION_ID = "credlybadges"
# Long enough for the longest benchmark; the stand-in's tokens run on the real clock.
GRAPH_TOKEN_LIFETIME_S = 6 * 3600
TIMEOUT_S = 10.0
SCHEMA_WAIT_S = 20.0


def provision_people_connection(graph_url: str, token: str, connection_id: str) -> None:
    """Create the `people` connection and register its schema, the way setup does in a tenant.

    Raises:
        RuntimeError: When the schema operation fails or does not complete in time.
    """
    with requests.Session() as graph:
        graph.headers["Authorization"] = f"Bearer {token}"
        created = graph.post(
            f"{graph_url}/external/connections",
            json={
                "id": connection_id,
                "name": "Credly badges",
                "description": "Verified Credly badges on Microsoft 365 profiles",
                "contentCategory": "people",
            },
            timeout=TIMEOUT_S,
        )
        if created.status_code not in {201, 409}:
            created.raise_for_status()
        schema = graph.patch(
            f"{graph_url}/external/connections/{connection_id}/schema",
            json={"baseType": "microsoft.graph.externalItem", "properties": PEOPLE_SCHEMA},
            headers={"Prefer": "include-unknown-enum-members"},
            timeout=TIMEOUT_S,
        )
        schema.raise_for_status()
        deadline = time.monotonic() + SCHEMA_WAIT_S
        while time.monotonic() < deadline:
            operation = graph.get(schema.headers["Location"], timeout=TIMEOUT_S).json()
            if operation["status"] == "completed":
                return
            if operation["status"] == "failed":
                raise RuntimeError(f"schema registration failed: {operation.get('error')}")
            time.sleep(0.05)
        raise RuntimeError("schema registration did not complete in time")


@dataclass
class ConnectedStack:
    """A world served by both stand-ins, and the settings that point the connector at them."""

    world: World
    credly: CredlyStandIn
    graph: GraphStandIn
    env: dict[str, str]

    @property
    def organization_id(self) -> str:
        """The organisation the connector reads."""
        return self.world.org_ids[0]


def organization_settings(
    world: World, *, oauth: bool = False, org_ids: tuple[str, ...] | None = None
) -> dict[str, str]:
    """`CREDLY_ORGANIZATIONS` naming one credential setting per organisation, and those settings.

    Args:
        world: The world whose organisations are read.
        oauth: Name OAuth client settings instead of authorization tokens.
        org_ids: The organisations to list (all of the world's by default).
    """
    env: dict[str, str] = {}
    listed: list[dict[str, str]] = []
    for number, org_id in enumerate(org_ids or world.org_ids, start=1):
        org = world.credly.orgs[org_id]
        if oauth:
            app = org.oauth_apps[0]
            names = {"clientIdSetting": f"CREDLY_CLIENT_ID_{number}"}
            names["clientSecretSetting"] = f"CREDLY_CLIENT_SECRET_{number}"
            env[names["clientIdSetting"]] = app.client_id
            env[names["clientSecretSetting"]] = app.client_secret
        else:
            names = {"authTokenSetting": f"CREDLY_TOKEN_{number}"}
            env[names["authTokenSetting"]] = org.tokens[0].token
        listed.append({"id": org_id, **names})
    env["CREDLY_ORGANIZATIONS"] = json.dumps(listed)
    return env


def credly_settings(world: World, credly: CredlyStandIn, *, oauth: bool = False) -> dict[str, str]:
    """The Credly settings for `world` served by `credly`: its organisations and URLs.

    Args:
        world: The world whose organisations the connector reads.
        credly: The running Credly stand-in.
        oauth: Sign in with OAuth client credentials instead of authorization tokens.
    """
    org = world.credly.orgs[world.org_ids[0]]
    if len(world.org_ids) > 1:
        env = organization_settings(world, oauth=oauth)
    elif oauth:
        app = org.oauth_apps[0]
        env = {"CREDLY_CLIENT_ID": app.client_id, "CREDLY_CLIENT_SECRET": app.client_secret}
    else:
        env = {"CREDLY_AUTH_TOKEN": org.tokens[0].token}
    if len(world.org_ids) == 1:
        env["CREDLY_ORGANIZATION_ID"] = org.id
    return {**env, "CREDLY_API_URL": credly.api_url, "CREDLY_WEB_URL": credly.web_url}


@contextmanager
def connected_stack(
    world: World,
    storage_connection_string: str,
    *,
    prefix: str = "",
    credly_knobs: Knobs | None = None,
    graph_knobs: Knobs | None = None,
    oauth: bool = False,
    extra_env: dict[str, str] | None = None,
    provision: bool = True,
) -> Iterator[ConnectedStack]:
    """Start both stand-ins for `world`, provision the connection, and yield the settings.

    Args:
        world: The world both stand-ins serve.
        storage_connection_string: The storage the connector uses (Azurite's).
        prefix: `STORAGE_PREFIX`, so runs on one storage account stay apart.
        credly_knobs: The Credly API's knobs (fresh ones when None).
        graph_knobs: Graph's knobs (fresh ones when None).
        oauth: Sign in to Credly with OAuth client credentials instead of a token.
        extra_env: Settings added last (they win).
        provision: Create the people connection and its schema here (False: leave it to the
            connector's own setup, as a new tenant has none).
    """
    with (
        CredlyStandIn(world.credly, knobs=credly_knobs) as credly,
        GraphStandIn(
            world.directory,
            tenant_id=world.tenant_id,
            knobs=graph_knobs,
            token_lifetime_s=GRAPH_TOKEN_LIFETIME_S,
        ) as graph,
    ):
        token = graph.token()
        if provision:
            provision_people_connection(graph.graph_url, token, CONNECTION_ID)
        env = {
            **credly_settings(world, credly, oauth=oauth),
            "GRAPH_API_URL": graph.graph_url,
            "GRAPH_CONNECTION_ID": CONNECTION_ID,
            "GRAPH_ACCESS_TOKEN": token,
            "AzureWebJobsStorage": storage_connection_string,
            **({"STORAGE_PREFIX": prefix} if prefix else {}),
            **(extra_env or {}),
        }
        yield ConnectedStack(world, credly, graph, env)
