"""What every piece of the local stack has in common: start, stop, and `with` support."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Service(ABC):
    """Something that runs in the background between `start()` and `stop()`.

    `with service:` starts it and always stops it, so tests and scripts never leave a server,
    thread or process behind.
    """

    @abstractmethod
    def start(self) -> Self:
        """Start (idempotent) and return self."""

    @abstractmethod
    def stop(self) -> None:
        """Stop and release everything started (idempotent)."""

    def __enter__(self) -> Self:
        """Start, and give the started piece."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop, whatever happened inside the block."""
        self.stop()
