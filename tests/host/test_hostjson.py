"""host.json: the queue options and function timeout the host honours, and bad values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.host.hostjson import (
    HostJsonError,
    QueueOptions,
    host_settings,
    parse_timespan,
    read_host_json,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_apps_host_json_is_read_as_written() -> None:
    path = REPO_ROOT / "host.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    queues = document["extensions"]["queues"]

    settings = read_host_json(path)

    assert settings.queues == QueueOptions(
        batch_size=queues["batchSize"],
        new_batch_threshold=queues["newBatchThreshold"],
        max_dequeue_count=queues["maxDequeueCount"],
        visibility_timeout_s=parse_timespan(queues["visibilityTimeout"]),
        max_polling_interval_s=parse_timespan(queues["maxPollingInterval"]),
        message_encoding=queues["messageEncoding"],
    )
    assert settings.function_timeout_s == parse_timespan(document["functionTimeout"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00:30", 30.0), ("01:02:03", 3723.0), ("1.00:00:00", 86400.0), ("00:00:00.5", 0.5)],
)
def test_timespans(text: str, seconds: float) -> None:
    assert parse_timespan(text) == seconds


def test_missing_values_take_the_hosts_defaults() -> None:
    settings = host_settings({"version": "2.0", "extensions": {"queues": {"batchSize": 4}}})

    assert settings.queues.batch_size == 4
    assert settings.queues.new_batch_threshold == 2  # half the batch, as the host
    assert settings.queues.max_dequeue_count == 5
    assert settings.queues.max_polling_interval_s == 60.0
    assert settings.function_timeout_s is None


@pytest.mark.parametrize(
    ("queues", "says"),
    [
        ({"batchSize": 64}, "batchSize"),
        ({"maxDequeueCount": "5"}, "maxDequeueCount"),
        ({"visibilityTimeout": "30s"}, "visibilityTimeout"),
        ({"messageEncoding": "utf8"}, "messageEncoding"),
    ],
)
def test_bad_values_name_the_setting(queues: dict[str, object], says: str) -> None:
    with pytest.raises(HostJsonError, match=says):
        host_settings({"extensions": {"queues": queues}})


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HostJsonError, match="cannot read"):
        read_host_json(tmp_path / "host.json")
