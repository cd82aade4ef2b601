"""A process sharing one organisation's Credly budget, for the multi-process budget tests.

`python -m tests.budget.credly_budget_worker '<json>'` with `mode`:
- `pages`: print `ready`, wait for a line on stdin (so every process starts at once), then
  fetch `pages` (a list of page numbers), `repeat` times over, on `threads` threads, and
  print `done <count>`;
- `hold`: take one slot, print `held`, and keep it (renewing) until killed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from credly_connector.budget.credly import budget_key, credly_budget
from credly_connector.budget.slot_store import SlotStore
from credly_connector.budget.slots import SharedSlots, SlotPolicy
from credly_connector.credly import CredlyClient, TokenAuth
from credly_connector.retry import RetryPolicy
from credly_connector.stores.tables import Tables


def policy(config: dict[str, Any]) -> SlotPolicy:
    lease_s = float(config.get("lease_s", 10.0))
    return SlotPolicy(lease_s=lease_s, renew_s=lease_s / 4, poll_cap_s=0.2, max_wait_s=60.0)


def fetch_pages(config: dict[str, Any], tables: Tables) -> int:
    rate = float(config["rate"]) if config.get("rate") else None
    budget = credly_budget(
        tables, config["org"], int(config["capacity"]), rate=rate, policy=policy(config)
    )
    client = CredlyClient(
        config["api_url"],
        config["org"],
        TokenAuth(config["token"]),
        retry=RetryPolicy(attempts=8, budget_s=60.0, backoff_s=0.2),
        budget=budget,
    )
    pages = [int(page) for page in config["pages"]] * int(config.get("repeat", 1))
    say("ready")
    sys.stdin.readline()
    lock = threading.Lock()
    fetched = 0

    def work() -> None:
        nonlocal fetched
        while True:
            with lock:
                if not pages:
                    return
                page = pages.pop()
            client.badge_page(page)
            with lock:
                fetched += 1

    threads = [threading.Thread(target=work) for _ in range(int(config["threads"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return fetched


def hold(config: dict[str, Any], tables: Tables) -> None:
    slots = SharedSlots(
        SlotStore(tables), budget_key(config["org"]), int(config["capacity"]), policy(config)
    )
    with slots.hold():
        say("held")
        time.sleep(120)


def say(line: str) -> None:
    """One line to the test, at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    config = json.loads(sys.argv[1])
    tables = Tables.from_connection_string(config["storage"], config["prefix"])
    if config["mode"] == "hold":
        hold(config, tables)
        return
    say(f"done {fetch_pages(config, tables)}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
