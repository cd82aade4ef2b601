"""The connector's operations routes as an administrator calls them: over HTTP, with a key.

`OpsClient` is what the demo (and anyone scripting the local host) uses to provision, start
crawls and follow them to their end through `/api/ops/...`, exactly as against the deployed
app. It knows the routes and their answers, nothing of the connector's internals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

TIMEOUT_S = 30.0
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class OpsError(RuntimeError):
    """An operations route answered with an error; the message carries its status and text."""


class OpsClient:
    """Calls `/api/ops/...` of a Functions host (local or in Azure) with a function key.

    Args:
        base_url: The host's URL without `/api` (e.g. `http://127.0.0.1:7071`).
        key: A function key, sent as `x-functions-key`.
    """

    def __init__(self, base_url: str, key: str) -> None:
        """A client of the routes under `base_url` with the function key `key`."""
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["x-functions-key"] = key

    def call(self, method: str, route: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """One request below `/api/`; returns the status and the JSON body (None when empty)."""
        url = f"{self.base_url}/api/{route}"
        response = self.session.request(method, url, json=body, timeout=TIMEOUT_S)
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = response.text
        return response.status_code, payload

    def expect(self, method: str, route: str, body: dict[str, Any] | None, ok: int) -> Any:
        """A request whose status must be `ok`, else `OpsError`."""
        status, payload = self.call(method, route, body)
        if status != ok:
            raise OpsError(f"{method} /api/{route} answered {status}: {_message(payload)}")
        return payload

    def setup(self, wait_s: int = 150) -> dict[str, Any]:
        """`POST ops/setup` until every step is done (it answers 202 while Graph works)."""
        while True:
            status, payload = self.call("POST", "ops/setup", {"waitSeconds": wait_s})
            if status != 202:
                break
        if status != 200:
            raise OpsError(f"setup answered {status}: {_message(payload)}")
        return dict(payload)

    def start_crawl(self, kind: str, *, dry_run: bool = False) -> dict[str, Any]:
        """`POST ops/crawls`: the started crawl (`id`, `statusUrl`...)."""
        body = {"kind": kind, **({"dryRun": True} if dry_run else {})}
        return dict(self.expect("POST", "ops/crawls", body, 202))

    def wait_crawl(
        self,
        crawl_id: str,
        *,
        timeout_s: float = 1800.0,
        interval_s: float = 0.5,
        on_poll: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll `GET ops/crawls/{id}` until the crawl ends; returns its last status.

        Raises:
            OpsError: When it has not ended within `timeout_s`.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            record = dict(self.expect("GET", f"ops/crawls/{quote(crawl_id)}", None, 200))
            if on_poll is not None:
                on_poll(record)
            if record.get("status") in FINAL_STATUSES:
                return record
            if time.monotonic() >= deadline:
                raise OpsError(f"crawl {crawl_id} did not end in {timeout_s:.0f} s")
            time.sleep(interval_s)

    def diagnose(self, email: str) -> tuple[int, Any]:
        """`GET ops/people/{email}`: the per-person diagnosis (status, body)."""
        return self.call("GET", f"ops/people/{quote(email, safe='@')}")


def _message(payload: Any) -> str:
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)
        return str(payload.get("message") or payload.get("detail") or payload)
    return str(payload)[:300]
