"""What the benchmark does to a running world: change badges, and count what Graph holds."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devstack.connected import CONNECTION_ID
from devstack.graph.server import GraphStandIn
from devstack.synthetic import World
from devstack.synthetic.mutation import Mutation, NoEligibleTargetError
from devstack.synthetic.mutations import Mutator


def change_badges(world: World, count: int, seed: int) -> int:
    """Apply `count` seeded badge changes at Credly, each at the real current time.

    Only changes an incremental crawl can see (they move `updated_at`): accepting, revoking,
    hiding, showing, replacing, issuing and expiring badges. Returns how many were applied.
    """
    mutator = Mutator(world, seed=seed)
    rng = random.Random(seed)
    kinds: list[tuple[Callable[[datetime], Mutation], int]] = [
        (mutator.accept_pending, 20),
        (mutator.revoke, 8),
        (mutator.make_private, 8),
        (mutator.make_public, 4),
        (mutator.replace, 6),
        (lambda at: mutator.add_badge(at=at), 20),
        (mutator.expire, 6),
    ]
    actions = [action for action, _ in kinds]
    weights = [weight for _, weight in kinds]
    applied = 0
    for _ in range(count):
        for _attempt in range(4 * len(actions)):
            action = rng.choices(actions, weights=weights)[0]
            try:
                action(max(datetime.now(UTC), world.clock))
            except NoEligibleTargetError:
                continue
            applied += 1
            break
    return applied


class ItemLedger:
    """Digests of the items Graph holds, to count how many a crawl really changed."""

    def __init__(self, graph: GraphStandIn) -> None:
        self.graph = graph
        self._digests: dict[str, str] = {}

    def snapshot(self) -> dict[str, Any]:
        """How many items Graph holds, and how many were added, changed or removed since."""
        items = self.graph.state.connectors.items(CONNECTION_ID)
        digests = {
            item_id: hashlib.sha256(
                json.dumps(item, sort_keys=True, default=str).encode()
            ).hexdigest()
            for item_id, item in items.items()
        }
        changed = sum(1 for k, v in digests.items() if self._digests.get(k) != v)
        removed = sum(1 for k in self._digests if k not in digests)
        self._digests = digests
        return {"items": len(digests), "items_changed": changed + removed}
