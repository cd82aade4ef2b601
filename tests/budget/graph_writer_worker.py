"""A process writing items to a Graph stand-in through one connection's shared write budget.

Run as `python -m tests.budget.graph_writer_worker '<json>'` by the fleet tests: it prints
`ready` after its first accepted write, then one JSON line with what it did.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from credly_connector.budget.policy import RatePolicy
from credly_connector.budget.rate import SharedRate
from credly_connector.graph.auth import graph_credential
from credly_connector.graph.client import open_graph_client
from credly_connector.graph.pacing import WritePacer, graph_budget_key
from credly_connector.stores.budgets import BudgetStore
from credly_connector.stores.tables import Tables


def say(line: str) -> None:
    """One line to the test, at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def item(item_id: str, tenant_id: str) -> dict[str, Any]:
    """A minimal people item (Graph's `everyone` ACL value is the tenant id)."""
    return {
        "id": item_id,
        "acl": [{"type": "everyone", "value": tenant_id, "accessType": "grant"}],
        "properties": {"accountInformation": json.dumps({"userPrincipalName": f"{item_id}@x"})},
    }


async def write_all(config: dict[str, Any]) -> dict[str, Any]:
    tables = Tables.from_connection_string(config["storage"], config["prefix"])
    ceiling = config.get("ceiling")
    policy = RatePolicy(start=config.get("start") or ceiling or 10.0, ceiling=ceiling)
    budget = SharedRate(graph_budget_key(config["connection"]), BudgetStore(tables), policy)
    pacer = WritePacer(concurrency=config.get("concurrency", 8), budget=budget)
    credential = graph_credential(
        access_token=config["token"], tenant_id=None, client_id=None, client_secret=None
    )
    todo = [f"{config['name']}x{n}" for n in range(config["count"])]
    written = 0
    announced = False

    async with open_graph_client(credential, base_url=config["graph_url"], pacer=pacer) as client:
        tenant = client.tenant_id()

        async def writer() -> None:
            nonlocal written, announced
            while todo:
                await client.put_item(config["connection"], item(todo.pop(), tenant))
                written += 1
                if not announced:
                    announced = True
                    say("ready")

        await asyncio.gather(*(writer() for _ in range(config.get("concurrency", 8))))
    return {"written": written, "operations": budget.operations, "throttles": budget.throttles}


def main() -> None:
    config = json.loads(sys.argv[1])
    outcome = asyncio.run(write_all(config))
    say(json.dumps(outcome))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
