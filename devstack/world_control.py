"""Change the running stack's world from another terminal: a badge earned, revoked, a user disabled.

`python -m devstack stack` serves this next to the stand-ins, so an administrator trying the
connector by hand can make what Credly and Entra ID would make happen: `python -m devstack
change accept` issues an accepted badge to a matched person (Credly records its event and,
when the organisation has a webhook URL, sends it), `change disable-user` disables a directory
user, and `change webhook URL` sets the organisations' webhook URL as an admin does in
Credly's settings. Each answer says who and which badge, with names, not ids.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any, Self

import requests

from devstack.credly.webhook_rules import WebhookTargetError, check_webhook_url
from devstack.lifecycle import Service
from devstack.narration import badge_words, describe_mutation
from devstack.standin import HttpError, Request, Response, StandInServer, route
from devstack.synthetic import Mutation, World
from devstack.synthetic.mutation import NoEligibleTargetError
from devstack.synthetic.mutations import Mutator
from devstack.synthetic.people import EmailRelation, Person

WORLD_URL_SETTING = "DEVSTACK_WORLD_URL"
"""The variable of the stack's env file naming where this server listens."""
CHANGES: dict[str, str] = {
    "accept": "issue an accepted badge to a matched, licensed person (Credly sends its webhook)",
    "revoke": "revoke a badge",
    "make-private": "make a public badge private",
    "make-public": "make a private badge public",
    "replace": "replace a badge by a new one of its template",
    "delete-badge": "delete a badge",
    "disable-user": "disable an Entra ID user (no webhook: the next crawl finds it)",
    "enable-user": "enable a disabled Entra ID user",
    "add-alias": "give a user a new alias and move their Credly email to it",
}


def showcase_person(world: World) -> Person:
    """A person a new accepted badge visibly reaches: matched by mail, enabled, licensed.

    Raises:
        NoEligibleTargetError: When the world has no such person.
    """
    for person in world.people:
        if (
            person.credly_user_id is not None
            and person.enabled
            and person.licensed
            and person.email_relation == EmailRelation.MAIL
        ):
            return person
    raise NoEligibleTargetError("no matched, licensed person with a Credly account")


class WorldControl(Service):
    """A loopback server applying named changes to a world (routes under `/_world/`).

    Args:
        world: The world the stand-ins serve.
        seed: Seeds the choice of targets.
    """

    def __init__(self, world: World, *, seed: int = 0) -> None:
        """Prepare the server; `start()` serves it."""
        self.world = world
        self.mutator = Mutator(world, seed=seed + 1000)
        self._lock = threading.Lock()
        self.server = StandInServer(
            "world-control",
            [
                route("POST", "/_world/changes", "world", self._change),
                route("PUT", "/_world/webhook", "world", self._webhook),
            ],
            lambda status, code, message: {"error": {"code": code, "message": message}},
        )

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` of the running server."""
        return self.server.base_url

    def start(self) -> Self:
        """Start the server."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()

    def apply(self, kind: str) -> dict[str, Any]:
        """Apply one named change; its description and ids.

        Raises:
            HttpError: 400 for an unknown kind, 409 when nothing is eligible for it.
        """
        m = self.mutator
        changes: dict[str, Callable[[], Mutation]] = {
            "accept": lambda: m.add_badge(showcase_person(self.world), state="accepted"),
            "revoke": m.revoke,
            "make-private": m.make_private,
            "make-public": m.make_public,
            "replace": m.replace,
            "delete-badge": m.delete_badge,
            "disable-user": m.disable_user,
            "enable-user": m.enable_user,
            "add-alias": m.add_alias,
        }
        if kind not in changes:
            raise HttpError(400, f"unknown change {kind!r}; one of: {', '.join(CHANGES)}")
        with self._lock:
            # Name the badges before the change: a deleted badge has no name after it.
            with self.world.credly.lock:
                ids = [b.id for o in self.world.org_ids for b in self.world.credly.org_badges(o)]
            names = {badge_id: badge_words(self.world, badge_id) for badge_id in ids}
            try:
                mutation = changes[kind]()
            except (NoEligibleTargetError, ValueError) as error:
                raise HttpError(409, f"no target for {kind}: {error}", "Conflict") from error
            return {
                "kind": kind,
                "description": describe_mutation(self.world, mutation, names),
                "badgeIds": list(mutation.badge_ids),
                "userId": mutation.user_id,
                "eventIds": list(mutation.event_ids),
                "webhooks": [
                    self.world.credly.orgs[o].webhook_url is not None for o in self.world.org_ids
                ],
            }

    def _change(self, request: Request) -> Response:
        payload = request.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("kind"), str):
            raise HttpError(400, 'send {"kind": "<change>"}')
        return Response.json(200, self.apply(payload["kind"]))

    def _webhook(self, request: Request) -> Response:
        """Set (or clear) every organisation's webhook URL, as an admin does at Credly."""
        payload = request.json()
        url = payload.get("url") if isinstance(payload, dict) else None
        if url is not None:
            if not isinstance(url, str):
                raise HttpError(400, 'send {"url": "<loopback URL>"} or {"url": null}')
            try:
                check_webhook_url(url)
            except WebhookTargetError as error:
                raise HttpError(400, str(error)) from error
        with self._lock:
            for org_id in self.world.org_ids:
                self.world.credly.orgs[org_id].webhook_url = url
        return Response.json(200, {"url": url})


def request_change(kind: str, url: str | None) -> int:
    """`python -m devstack change KIND`: ask the running stack; 0 when it applied the change."""
    base = os.environ.get(WORLD_URL_SETTING)
    if not base:
        sys.stderr.write(
            f"{WORLD_URL_SETTING} is not set: start `python -m devstack stack --env-file "
            ".env.local`, then load it (set -a; . ./.env.local; set +a)\n"
        )
        return 2
    try:
        if kind == "webhook":
            answer = requests.put(f"{base}/_world/webhook", json={"url": url}, timeout=10)
        else:
            answer = requests.post(f"{base}/_world/changes", json={"kind": kind}, timeout=10)
    except requests.ConnectionError:
        sys.stderr.write(f"the stack at {base} is not running: start it again\n")
        return 2
    body = answer.json() if answer.content else {}
    if answer.status_code != 200:
        sys.stderr.write(f"{body.get('error', {}).get('message', answer.text)}\n")
        return 1
    if kind == "webhook":
        shown = body.get("url")
        sys.stdout.write(f"Credly's webhook URL: {shown}\n" if shown else "webhook URL cleared\n")
    else:
        sys.stdout.write(f"{body['description']}\n")
        if body.get("eventIds") and any(body.get("webhooks", [])):
            sys.stdout.write("Credly sends its webhook now\n")
        elif body.get("eventIds"):
            sys.stdout.write("no webhook URL is set: the next incremental crawl reads it\n")
    return 0
