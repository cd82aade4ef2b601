"""The host.json settings the local host honours: queue polling and the function timeout."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$")
ENCODINGS = ("base64", "none")


class HostJsonError(ValueError):
    """host.json has a value the host cannot use; the message names it."""


def parse_timespan(text: str, name: str = "timespan") -> float:
    """Seconds of a .NET timespan as host.json writes it: `[d.]hh:mm:ss[.fff]`.

    Raises:
        HostJsonError: When `text` is not such a timespan.
    """
    found = _TIMESPAN.match(str(text).strip())
    if not found:
        raise HostJsonError(f"host.json {name}: {text!r} is not a timespan like '00:00:30'")
    days, hours, minutes, seconds, fraction = found.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        raise HostJsonError(f"host.json {name}: {text!r} has minutes or seconds above 59")
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


@dataclass(frozen=True)
class QueueOptions:
    """`extensions.queues` of host.json, with the host's defaults.

    Attributes:
        batch_size: Messages fetched at once per function.
        new_batch_threshold: In-flight count at or below which the next batch is fetched.
        max_dequeue_count: Deliveries before a message moves to the `-poison` queue.
        visibility_timeout_s: How long a failed message stays invisible before its retry.
        max_polling_interval_s: The longest wait between polls of an empty queue.
        message_encoding: `base64` or `none`.
    """

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout_s: float = 0.0
    max_polling_interval_s: float = 60.0
    message_encoding: str = "base64"


@dataclass(frozen=True)
class HostSettings:
    """What the local host reads from host.json."""

    queues: QueueOptions = QueueOptions()
    function_timeout_s: float | None = None


def host_settings(document: dict[str, Any]) -> HostSettings:
    """The settings of a parsed host.json document.

    Raises:
        HostJsonError: For a value out of range or of the wrong form.
    """
    queues = (document.get("extensions") or {}).get("queues") or {}
    defaults = QueueOptions()
    batch_size = _integer(queues, "batchSize", defaults.batch_size, 1, 32)
    options = QueueOptions(
        batch_size=batch_size,
        new_batch_threshold=_integer(queues, "newBatchThreshold", batch_size // 2, 0, 10_000),
        max_dequeue_count=_integer(queues, "maxDequeueCount", defaults.max_dequeue_count, 1, 1000),
        visibility_timeout_s=_timespan(queues, "visibilityTimeout", defaults.visibility_timeout_s),
        max_polling_interval_s=max(
            0.1, _timespan(queues, "maxPollingInterval", defaults.max_polling_interval_s)
        ),
        message_encoding=str(queues.get("messageEncoding", defaults.message_encoding)).lower(),
    )
    if options.message_encoding not in ENCODINGS:
        raise HostJsonError(
            f"host.json extensions.queues.messageEncoding: {options.message_encoding!r} "
            f"is not one of {', '.join(ENCODINGS)}"
        )
    timeout = document.get("functionTimeout")
    function_timeout = (
        None if timeout in (None, "-1") else parse_timespan(timeout, "functionTimeout")
    )
    return HostSettings(options, function_timeout)


def read_host_json(path: Path) -> HostSettings:
    """The settings of a host.json file.

    Raises:
        HostJsonError: When the file is missing, not JSON, or has a bad value.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise HostJsonError(f"cannot read {path.name}: {error}") from error
    if not isinstance(document, dict):
        raise HostJsonError(f"{path.name} is not a JSON object")
    return host_settings(document)


def _integer(queues: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = queues.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise HostJsonError(
            f"host.json extensions.queues.{name}: {value!r} is not a whole number {low}-{high}"
        )
    return value


def _timespan(queues: dict[str, Any], name: str, default: float) -> float:
    value = queues.get(name)
    return default if value is None else parse_timespan(value, f"extensions.queues.{name}")
