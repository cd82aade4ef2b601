"""`python -m devstack change KIND`: make something happen at Credly or in Entra ID, by hand.

It asks the running `python -m devstack stack` (its world control, `DEVSTACK_WORLD_URL` in the
env file) to apply one change, and prints who and which badge it concerned. `change webhook
URL` sets the organisations' webhook URL, as an admin does in Credly's settings.
"""

from __future__ import annotations

import argparse
import os
import sys

import requests

from devstack.world_control import CHANGES
from devstack.world_control import WORLD_URL_SETTING as WORLD_URL


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `change` command."""
    change = commands.add_parser(
        "change",
        help="change the running stack's world (a badge earned, a user disabled...)",
        description="\n".join(f"{k:<15} {v}" for k, v in CHANGES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    change.add_argument("kind", choices=[*CHANGES, "webhook"], metavar="KIND")
    change.add_argument("url", nargs="?", help="for `webhook`: the URL (omit to clear it)")


def run(args: argparse.Namespace) -> int:
    """Apply the change; 0 when the stack applied it."""
    base = os.environ.get(WORLD_URL)
    if not base:
        sys.stderr.write(
            f"{WORLD_URL} is not set: start `python -m devstack stack --env-file .env.local`, "
            "then load it (set -a; . ./.env.local; set +a)\n"
        )
        return 2
    try:
        if args.kind == "webhook":
            answer = requests.put(f"{base}/_world/webhook", json={"url": args.url}, timeout=10)
        else:
            answer = requests.post(f"{base}/_world/changes", json={"kind": args.kind}, timeout=10)
    except requests.ConnectionError:
        sys.stderr.write(f"the stack at {base} is not running: start it again\n")
        return 2
    body = answer.json() if answer.content else {}
    if answer.status_code != 200:
        sys.stderr.write(f"{body.get('error', {}).get('message', answer.text)}\n")
        return 1
    if args.kind == "webhook":
        url = body.get("url")
        sys.stdout.write(f"Credly's webhook URL: {url}\n" if url else "webhook URL cleared\n")
        return 0
    sys.stdout.write(f"{body['description']}\n")
    if body.get("eventIds") and any(body.get("webhooks", [])):
        sys.stdout.write("Credly sends its webhook now\n")
    elif body.get("eventIds"):
        sys.stdout.write("no webhook URL is set: the next incremental crawl reads it\n")
    return 0
