"""The pipeline's Storage queues: names, creation, and sending base64-encoded messages."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import (
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from credly_connector.pipeline.messages import STAGES, Message, encode, stage_of
from credly_connector.stores.transport import storage_transport

QUEUE_NAMES = {stage: f"crawl-{stage}" for stage in STAGES}
EVENTS = "events"
"""The queue of Credly webhook notifications: not a crawl stage, drained like one."""
QUEUE_NAMES[EVENTS] = "credly-events"
POISON_SUFFIX = "-poison"
# Messages `send_all` has in flight at once.
SEND_THREADS = 8


class CrawlQueues:
    """One queue per stage, on one account, named with an optional prefix (tests, benchmark).

    Messages are base64 text, which is what the Functions host's queue trigger expects.
    """

    def __init__(self, service: QueueServiceClient, prefix: str = "") -> None:
        """Send through `service` to queues named `prefix` + each queue's name."""
        self.service = service
        self.prefix = prefix
        self._clients: dict[str, QueueClient] = {}
        self.sent = 0
        # Messages this process sent, per stage: a local dispatcher polls a queue at once when
        # it grew (as the Functions host is told of its own app's queue writes).
        self.sent_by_stage: Counter[str] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def from_connection_string(
        cls, connection_string: str, prefix: str = "", **options: Any
    ) -> CrawlQueues:
        """Queues on the account of a connection string (`options` go to the SDK client)."""
        service = QueueServiceClient.from_connection_string(
            connection_string, transport=storage_transport(), **options
        )
        return cls(service, prefix)

    def name(self, stage: str, *, poison: bool = False) -> str:
        """The queue name of a stage (or of its poison queue)."""
        return f"{self.prefix}{QUEUE_NAMES[stage]}{POISON_SUFFIX if poison else ''}"

    def client(self, stage: str, *, poison: bool = False) -> QueueClient:
        """A client for a stage's queue (cached)."""
        name = self.name(stage, poison=poison)
        client = self._clients.get(name)
        if client is None:
            client = self.service.get_queue_client(
                name,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )
            self._clients[name] = client
        return client

    def ensure(self) -> int:
        """Create every queue of `QUEUE_NAMES` and its poison queue when missing (count)."""
        created = 0
        for stage in QUEUE_NAMES:
            for poison in (False, True):
                with contextlib.suppress(ResourceExistsError):
                    self.service.create_queue(self.name(stage, poison=poison))
                    created += 1
        return created

    def send(self, message: Message) -> None:
        """Enqueue one message on its stage's queue."""
        stage = stage_of(message)
        self.client(stage).send_message(encode(message))
        self._count(stage)

    def send_text(self, stage: str, body: str) -> None:
        """Enqueue a message body that is not a crawl message (e.g. on the events queue)."""
        self.client(stage).send_message(body)
        self._count(stage)

    def _count(self, stage: str) -> None:
        with self._lock:
            self.sent += 1
            self.sent_by_stage[stage] += 1

    def send_all(self, messages: Iterable[Message]) -> int:
        """Enqueue several messages, side by side (a queue keeps no order); returns how many.

        Raises:
            Exception: A send's failure, once the others ended (some may have been sent: a
                sender that tries again sends those twice, which at-least-once queues allow).
        """
        batch = list(messages)
        if len(batch) <= 1:
            for message in batch:
                self.send(message)
            return len(batch)
        threads = min(SEND_THREADS, len(batch))
        with ThreadPoolExecutor(threads, thread_name_prefix="queue-sends") as pool:
            for sent in [pool.submit(self.send, message) for message in batch]:
                sent.result()
        return len(batch)
