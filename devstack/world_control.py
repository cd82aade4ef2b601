"""Change the running stack's world from another terminal: a badge earned, revoked, a user disabled.

`python -m devstack stack` serves this next to the stand-ins, so an administrator trying the
connector by hand can make what Credly and Entra ID would make happen: `python -m devstack
change accept` issues an accepted badge to a matched person (Credly records its event and,
when the organisation has a webhook URL, sends it), `change disable-user` disables a directory
user, and `change webhook URL` sets the organisations' webhook URL as an admin does in
Credly's settings. Each answer says who and which badge, with names, not ids.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Self

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
    "accept-pending": "accept a pending badge",
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
        port: Fixed port (0: any free port).
        on_webhook_url: Called after the webhook URL changed (e.g. to start the dispatcher).
    """

    def __init__(
        self,
        world: World,
        *,
        seed: int = 0,
        port: int = 0,
        on_webhook_url: Callable[[str | None], None] | None = None,
    ) -> None:
        """Prepare the server; `start()` serves it."""
        self.world = world
        self.mutator = Mutator(world, seed=seed + 1000)
        self._lock = threading.Lock()
        self._on_webhook_url = on_webhook_url
        self.server = StandInServer(
            "world-control",
            [
                route("GET", "/_world/changes", "world", self._list),
                route("POST", "/_world/changes", "world", self._change),
                route("PUT", "/_world/webhook", "world", self._webhook),
            ],
            lambda status, code, message: {"error": {"code": code, "message": message}},
            port=port,
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
        if kind not in CHANGES:
            raise HttpError(400, f"unknown change {kind!r}; one of: {', '.join(CHANGES)}")
        with self._lock:
            try:
                names: dict[str, tuple[str, str]] = {}
                mutation = self._mutate(kind, names)
            except (NoEligibleTargetError, ValueError) as error:
                raise HttpError(409, f"no target for {kind}: {error}", "Conflict") from error
            names.update({b: badge_words(self.world, b) for b in mutation.badge_ids})
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

    def _mutate(self, kind: str, names: dict[str, tuple[str, str]]) -> Mutation:
        m = self.mutator
        if kind == "accept":
            return m.add_badge(showcase_person(self.world), state="accepted")
        if kind in {"revoke", "make-private", "delete-badge", "replace"}:
            # Name the badge before the change: a deleted badge has no name after it.
            before = {b.id: badge_words(self.world, b.id) for b in self._all_badges()}
            mutation = {
                "revoke": m.revoke,
                "make-private": m.make_private,
                "delete-badge": m.delete_badge,
                "replace": m.replace,
            }[kind]()
            names.update({b: before[b] for b in mutation.badge_ids if b in before})
            return mutation
        simple: dict[str, Callable[[], Mutation]] = {
            "accept-pending": m.accept_pending,
            "make-public": m.make_public,
            "disable-user": m.disable_user,
            "enable-user": m.enable_user,
            "add-alias": m.add_alias,
        }
        return simple[kind]()

    def _all_badges(self) -> list[Any]:
        with self.world.credly.lock:
            return [b for org in self.world.org_ids for b in self.world.credly.org_badges(org)]

    def set_webhook_url(self, url: str | None) -> None:
        """Set (or clear) every organisation's webhook URL, as an admin does at Credly."""
        with self._lock:
            for org_id in self.world.org_ids:
                self.world.credly.orgs[org_id].webhook_url = url
        if self._on_webhook_url is not None:
            self._on_webhook_url(url)

    # -- routes ----------------------------------------------------------------------------

    def _list(self, request: Request) -> Response:
        return Response.json(200, CHANGES)

    def _change(self, request: Request) -> Response:
        payload = request.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("kind"), str):
            raise HttpError(400, 'send {"kind": "<change>"}')
        return Response.json(200, self.apply(payload["kind"]))

    def _webhook(self, request: Request) -> Response:
        payload = request.json()
        url = payload.get("url") if isinstance(payload, dict) else None
        if url is not None:
            if not isinstance(url, str):
                raise HttpError(400, 'send {"url": "<loopback URL>"} or {"url": null}')
            try:
                check_webhook_url(url)
            except WebhookTargetError as error:
                raise HttpError(400, str(error)) from error
        self.set_webhook_url(url)
        return Response.json(200, {"url": url})
