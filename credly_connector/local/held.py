"""The messages a dispatcher holds: what it did with them, and each queue operation on one.

A received message is settled once (deleted, released or moved to its poison queue); a
renewal of its lease may run any number of times before that, never after.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from azure.core.exceptions import AzureError
from azure.storage.queue import QueueMessage

from credly_connector.pipeline.context import CrawlContext

log = logging.getLogger("credly_connector.local.dispatcher")


@dataclass
class DispatchStats:
    """What the dispatcher did."""

    handled: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    poisoned: Counter[str] = field(default_factory=Counter)
    renewed: int = 0
    abandoned: int = 0


@dataclass
class Held:
    """A received message while this process holds it; `lock` orders renewals and settling."""

    stage: str
    message: QueueMessage
    lock: threading.Lock = field(default_factory=threading.Lock)
    settled: bool = False


class HeldMessages:
    """The queue operations on the messages of one dispatcher, counted in its stats.

    Args:
        ctx: The context whose queues hold the messages (read at each call).
        visibility_timeout_s: How long a received or renewed message stays hidden.
        stats: The dispatcher's counts, changed under `lock`.
    """

    def __init__(
        self,
        ctx: CrawlContext,
        visibility_timeout_s: int,
        stats: DispatchStats,
        lock: threading.Lock,
    ) -> None:
        """Operations on `ctx`'s queues, counting into `stats` under `lock`."""
        self._ctx = ctx
        self._visibility_timeout_s = visibility_timeout_s
        self._stats = stats
        self._lock = lock

    def extend(self, held: Held) -> None:
        """Hide a held message for another lease; the new pop receipt settles it later."""
        message = held.message
        updated = self._ctx.queues.client(held.stage).update_message(
            message.id,
            pop_receipt=message.pop_receipt,
            visibility_timeout=self._visibility_timeout_s,
        )
        message.pop_receipt = updated.pop_receipt
        message.next_visible_on = updated.next_visible_on
        with self._lock:
            self._stats.renewed += 1

    def release(self, held: Held, delay_s: int) -> None:
        """Let a held message reappear after `delay_s` seconds."""
        message = held.message
        self._ctx.queues.client(held.stage).update_message(
            message.id, pop_receipt=message.pop_receipt, visibility_timeout=delay_s
        )

    def settle(self, held: Held, action: Callable[[Held], None], *, renewal: bool = False) -> bool:
        """Run one queue operation on a held message unless it was settled; whether it ran.

        A renewal leaves the message held; any other operation settles it, so a renewal
        racing it never uses a pop receipt the settling made stale.
        """
        with held.lock:
            if held.settled:
                return False
            held.settled = not renewal
            try:
                action(held)
            except AzureError as error:
                # Not deleted (or moved, or renewed): the message comes back once its lease
                # runs out, and the handlers are idempotent.
                (log.debug if renewal else log.warning)(
                    "a %s message could not be settled: %s", held.stage, error
                )
                return False
            return True

    def receive(self, stage: str, limit: int) -> list[QueueMessage]:
        """Up to `limit` messages of a stage; none while the queue service is unreachable."""
        client = self._ctx.queues.client(stage)
        try:
            pages = client.receive_messages(
                messages_per_page=limit, visibility_timeout=self._visibility_timeout_s
            ).by_page()
            # One request: iterating on would ask again, and stopping part-way through a
            # later page would leave its other messages received, unhandled and invisible
            # until their visibility timeout (which stalled a crawl for two minutes).
            return list(next(pages, []))
        except AzureError as error:  # as the host does: log, and poll again later
            log.warning("receiving %s messages failed: %s", stage, error)
            return []

    def delete(self, held: Held) -> None:
        """Delete a handled message."""
        self._ctx.queues.client(held.stage).delete_message(held.message)

    def poison(self, held: Held) -> None:
        """Move a message that failed its last delivery to the stage's poison queue."""
        stage, message = held.stage, held.message
        self._ctx.queues.client(stage, poison=True).send_message(message.content)
        self._ctx.queues.client(stage).delete_message(message)
        with self._lock:
            self._stats.poisoned[stage] += 1
