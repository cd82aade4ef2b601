"""What the `scaleout` scenario reads from the stand-ins' process: requests, exactness, a webhook.

The host's instances are processes of their own, so the Graph writes, 429s and Credly
requests of a crawl are read where they arrive: the stand-ins' request logs. Times are
`time.monotonic()`, the same clock in every process of the machine.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from credly_connector.settings import load_settings
from devstack.connected import CONNECTION_ID, ConnectedStack
from devstack.synthetic import Mutator
from tests.pipeline.oracle import expected_items, stored_items

ITEM_ROUTE = "items"
WEBHOOK_POLL_S = 0.1


class StandInReadings:
    """Reads a running stack for the benchmark (in the stand-ins' process).

    Args:
        stack: The connected stack being served.
    """

    def __init__(self, stack: ConnectedStack) -> None:
        self.stack = stack
        self.web_url = load_settings(stack.env).credly.web_url
        self._watcher: threading.Thread | None = None
        self._stop_watch = threading.Event()
        self._result: dict[str, Any] = {"latency_s": None, "posted": False}

    def log(self, since: float) -> dict[str, Any]:
        """Item writes `[at, status]` and Credly API requests `[at, duration]` since `since`."""
        writes = [
            [entry.at, entry.status]
            for entry in self.stack.graph.server.requests.entries(ITEM_ROUTE)
            if entry.at >= since and entry.method in {"PUT", "DELETE"}
        ]
        credly = [
            [entry.at, entry.duration_s]
            for entry in self.stack.credly.api.requests.entries()
            if entry.at >= since
        ]
        return {"writes": writes, "credly": credly}

    def exact(self) -> dict[str, Any]:
        """Whether Graph holds exactly the oracle's items for the world as it is now."""
        expected = self._expected()
        stored = stored_items(self.stack.graph, CONNECTION_ID)
        ids = expected.keys() | stored.keys()
        wrong = sorted(k for k in ids if expected.get(k) != stored.get(k))
        return {"exact": not wrong, "expected": len(expected), "wrong": len(wrong)}

    def webhook(self, url: str, seed: int) -> dict[str, Any]:
        """Accept a pending badge that changes someone's item, and deliver its event to `url`.

        Returns the item's id, or `{"item_id": None}` when no pending badge changes an item.
        """
        world = self.stack.world
        webhooks = self.stack.credly.webhooks
        # One pass with no URL first: events recorded so far are dropped for good, so only
        # the change made here is delivered.
        webhooks.deliver_pending()
        for org_id in world.org_ids:
            world.credly.orgs[org_id].webhook_url = url
        before = self._expected()
        mutator = Mutator(world, seed=seed)
        for _ in range(20):
            accepted = mutator.accept_pending()
            after = self._expected()
            changed = [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]
            if changed:
                break
            before = after
        else:
            return {"item_id": None}
        item_id = changed[0]
        webhooks.start()
        self._stop_watch.clear()
        self._watcher = threading.Thread(
            target=self._watch,
            args=(item_id, after.get(item_id), accepted.event_ids[-1]),
            name="webhook-watch",
            daemon=True,
        )
        self._watcher.start()
        return {"item_id": item_id}

    def webhook_result(self, timeout_s: float) -> dict[str, Any]:
        """Seconds from the webhook's POST until Graph held the item it changed (None: not)."""
        watcher = self._watcher
        if watcher is None:
            return {"latency_s": None, "posted": False}
        watcher.join(timeout_s)
        self._stop_watch.set()
        watcher.join()
        self._watcher = None
        self.stack.credly.webhooks.stop()
        return dict(self._result)

    def _watch(self, item_id: str, item: dict[str, Any] | None, event_id: str) -> None:
        webhooks = self.stack.credly.webhooks
        posted_at: float | None = None
        self._result = {"latency_s": None, "posted": False}
        while not self._stop_watch.wait(WEBHOOK_POLL_S):
            if posted_at is None:
                posts = [a.at for a in webhooks.delivery_log() if a.event_id == event_id]
                posted_at = min(posts) if posts else None
                self._result["posted"] = posted_at is not None
            if posted_at is not None and self._item(item_id) == item:
                self._result["latency_s"] = round(time.monotonic() - posted_at, 3)
                return

    def _item(self, item_id: str) -> dict[str, Any] | None:
        return stored_items(self.stack.graph, CONNECTION_ID).get(item_id)

    def _expected(self) -> dict[str, dict[str, Any]]:
        return expected_items(self.stack.world, now=datetime.now(UTC), web_url=self.web_url)
