"""The Credly stand-in: the Web Service API v1 and the OAuth token endpoint on loopback.

Two `StandInServer`s share one `CredlyData` store: the "api" server answers
`/v1/organizations/{org}/...` like `api.credly.com`, the "web" server answers
`POST /oauth/token` like `www.credly.com` (Credly's token endpoint is not on the API host).
Who may read what is decided in `devstack.credly.auth`, which also issues the access tokens;
list queries, paging and the badge-list cache live in `devstack.credly.listing`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, Self

from devstack.credly.auth import (
    BADGE_SCOPE,
    DEFAULT_TOKEN_LIFETIME_S,
    EVENTS_SCOPE,
    TOKENS_SCOPE,
    AccessControl,
    AccessGrant,
    issue_access_token,
    render_oauth_error,
)
from devstack.credly.errors import not_found, render_api_error
from devstack.credly.filters import ACCEPT, IGNORE, KEY_MODES, REJECT, UPDATED_AT_MIN_MODE
from devstack.credly.listing import BadgeSelector, list_response, read_list_query
from devstack.credly.records import AuthToken, CredlyData
from devstack.credly.render import BadgeRenderer, render_event, render_organization, render_token
from devstack.credly.webhooks import WebhookDispatcher
from devstack.lifecycle import Service
from devstack.standin import HttpError, Knobs, Request, Response, StandInServer, route

__all__ = ["DEFAULT_TOKEN_LIFETIME_S", "CredlyStandIn"]


class CredlyStandIn(Service):
    """Credly's API ("api" server) and OAuth endpoint ("web" server) over one data store.

    Attributes:
        data: The store both servers read; tests may change it while they run.
        api: The API server; route classes "organization", "badges", "badge", "events",
            "tokens". Tests read `api.requests` and turn `api.knobs`; its mode
            `UPDATED_AT_MIN_MODE` says whether the badge list accepts, rejects (400) or
            ignores `updated_at_min`.
        web: The OAuth server (route class "oauth"), with its own knobs so API faults never
            hit token requests.
        page_url_base: Scheme and host (no `/v1`) used in `next_page_url` and
            `previous_page_url`; None for the API server's own base URL.
        access: Checks credentials and keeps the issued access tokens.
        selector: Filters, sorts and caches badge lists.
        webhooks: Delivers `data.events` to the organisations' `webhook_url`s (never started
            by the stand-in itself; its `stop()` stops it too).

    Args:
        data: The store to serve.
        clock: Returns "now" as an aware UTC datetime for token expiry; the real clock when
            None.
        knobs: The API server's knobs (a fresh set when None).
    """

    def __init__(
        self,
        data: CredlyData,
        *,
        clock: Callable[[], datetime] | None = None,
        knobs: Knobs | None = None,
    ) -> None:
        """Build both servers over `data`; `start()` serves them."""
        self.data = data
        self.page_url_base: str | None = None
        self.renderer = BadgeRenderer(data)
        self.access = AccessControl(data, clock=clock)
        self.selector = BadgeSelector(data)
        self.webhooks = WebhookDispatcher(data)
        org = "/v1/organizations/{org}"
        self.api = StandInServer(
            "credly-api",
            [
                route("GET", org, "organization", self._get_organization),
                route("GET", f"{org}/badges", "badges", self._list_badges),
                route("GET", f"{org}/badges/{{badge}}", "badge", self._get_badge),
                route("GET", f"{org}/events/{{event}}", "events", self._get_event),
                route("GET", f"{org}/authorization_tokens", "tokens", self._list_tokens),
            ],
            render_api_error,
            knobs=knobs,
        )
        self.web = StandInServer(
            "credly-web",
            [route("POST", "/oauth/token", "oauth", self._issue_token)],
            render_oauth_error,
        )

    def start(self) -> Self:
        """Start both servers (stopping the first if the second fails)."""
        self.api.start()
        try:
            self.web.start()
        except BaseException:
            self.api.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the webhook dispatcher's thread (if started) and both servers."""
        try:
            self.webhooks.stop()
        finally:
            try:
                self.web.stop()
            finally:
                self.api.stop()

    @property
    def api_url(self) -> str:
        """The API base URL, e.g. `http://127.0.0.1:PORT/v1`."""
        return f"{self.api.base_url}/v1"

    @property
    def web_url(self) -> str:
        """The web site base URL hosting the OAuth endpoint, e.g. `http://127.0.0.1:PORT`."""
        return self.web.base_url

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint."""
        return f"{self.web.base_url}/oauth/token"

    @property
    def token_lifetime_s(self) -> int:
        """Lifetime of newly issued access tokens (`expires_in`)."""
        return self.access.token_lifetime_s

    @token_lifetime_s.setter
    def token_lifetime_s(self, seconds: int) -> None:
        self.access.token_lifetime_s = seconds

    # -- access tokens ---------------------------------------------------------------------

    def access_grants(self) -> list[AccessGrant]:
        """The access tokens issued and not revoked (expired ones included)."""
        return self.access.grants()

    def expire_access_tokens(self) -> int:
        """Let every issued access token expire now; returns how many there were.

        Unlike a revocation the tokens stay known, so the API answers "access token has
        expired", as Credly does when a token outlives its `expires_in`.
        """
        return self.access.expire_all()

    def revoke_access_tokens(self) -> int:
        """Revoke every issued access token at once; returns how many there were."""
        return self.access.revoke_all()

    def _issue_token(self, request: Request) -> Response:
        return issue_access_token(request, self.access)

    # -- API routes ------------------------------------------------------------------------

    def _get_organization(self, request: Request) -> Response:
        _, org = self.access.authorize(request, None)
        return Response.json(200, {"data": render_organization(org)})

    def _list_badges(self, request: Request) -> Response:
        _, org = self.access.authorize(request, BADGE_SCOPE)
        mode = self.api.knobs.mode(UPDATED_AT_MIN_MODE, ACCEPT)
        if mode not in KEY_MODES:
            raise HttpError(
                500, f"stand-in mode {UPDATED_AT_MIN_MODE}={mode!r} is not one of {KEY_MODES}"
            )
        query = read_list_query(request, filtered=True)
        badge_filter = query.badge_filter
        if badge_filter.updated_since is not None and mode == REJECT:
            raise HttpError(400, "filter key 'updated_at_min' is not supported", "BadRequest")
        if mode == IGNORE:
            badge_filter = dataclasses.replace(badge_filter, updated_since=None)
        selected = self.selector.select(org.id, badge_filter, query.sort)
        return list_response(request, query, selected, self.renderer.badge, self.page_url_base)

    def _get_badge(self, request: Request) -> Response:
        _, org = self.access.authorize(request, BADGE_SCOPE)
        badge = self.data.badge(org.id, request.params["badge"])
        if badge is None:
            raise not_found("badge", request.params["badge"])
        return Response.json(200, {"data": self.renderer.badge(badge)})

    def _get_event(self, request: Request) -> Response:
        """The event with its badge; a deleted badge is shown as `{"id": ...}` only."""
        _, org = self.access.authorize(request, EVENTS_SCOPE)
        event = self.data.events.get(request.params["event"])
        if event is None or event.org_id != org.id:
            raise not_found("event", request.params["event"])
        badge_json: dict[str, Any] | None = None
        if event.badge_id is not None:
            badge = self.data.badge(org.id, event.badge_id)
            badge_json = self.renderer.badge(badge) if badge else {"id": event.badge_id}
        return Response.json(200, {"data": render_event(event, badge_json)})

    def _list_tokens(self, request: Request) -> Response:
        """The organisation's tokens; a read-only token sees only the read-only ones."""
        caller, org = self.access.authorize(request, TOKENS_SCOPE)
        tokens = list(org.tokens)
        if caller.token is not None and not _can_change(caller.token):
            tokens = [t for t in tokens if not _can_change(t)]
        query = read_list_query(request)
        return list_response(
            request, query, tokens, lambda t: render_token(t, org), self.page_url_base
        )


def _can_change(token: AuthToken) -> bool:
    return token.write_enabled or token.delete_enabled
