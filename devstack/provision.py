"""Provision the Graph stand-in's people connection over HTTP, the way setup will in a tenant."""

from __future__ import annotations

import time
from typing import Any

import requests

from credly_connector.rules.items import PEOPLE_SCHEMA

TIMEOUT_S = 10.0
SCHEMA_WAIT_S = 20.0


def provision_people_connection(graph_url: str, token: str, connection_id: str) -> dict[str, Any]:
    """Create the `people` connection and register its schema; returns the ready connection.

    Raises:
        RuntimeError: When the schema operation fails or does not complete in time.
    """
    headers = {"Authorization": f"Bearer {token}"}
    created = requests.post(
        f"{graph_url}/external/connections",
        json={
            "id": connection_id,
            "name": "Credly badges",
            "description": "Verified Credly badges on Microsoft 365 profiles",
            "contentCategory": "people",
        },
        headers=headers,
        timeout=TIMEOUT_S,
    )
    if created.status_code not in {201, 409}:
        created.raise_for_status()
    schema = requests.patch(
        f"{graph_url}/external/connections/{connection_id}/schema",
        json={"baseType": "microsoft.graph.externalItem", "properties": PEOPLE_SCHEMA},
        headers={**headers, "Prefer": "include-unknown-enum-members"},
        timeout=TIMEOUT_S,
    )
    schema.raise_for_status()
    location = schema.headers["Location"]
    deadline = time.monotonic() + SCHEMA_WAIT_S
    while time.monotonic() < deadline:
        operation = requests.get(location, headers=headers, timeout=TIMEOUT_S).json()
        if operation["status"] == "completed":
            break
        if operation["status"] == "failed":
            raise RuntimeError(f"schema registration failed: {operation.get('error')}")
        time.sleep(0.05)
    else:
        raise RuntimeError("schema registration did not complete in time")
    answer = requests.get(
        f"{graph_url}/external/connections/{connection_id}", headers=headers, timeout=TIMEOUT_S
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result
