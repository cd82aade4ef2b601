"""The Credly stand-in: the Web Service API v1 and the OAuth token endpoint on loopback.

Two `StandInServer`s share one `CredlyData` store: the "api" server answers
`/v1/organizations/...` like `api.credly.com`, the "web" server answers `POST /oauth/token`
like `www.credly.com` (Credly's token endpoint is not on the API host). Who may read what is
decided in `devstack.credly.auth`, the token endpoint lives in `devstack.credly.oauth` and
list queries, paging and the badge-list cache in `devstack.credly.listing`.
"""

from __future__ import annotations

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
)
from devstack.credly.errors import not_found, render_api_error
from devstack.credly.filters import (
    ACCEPT,
    IGNORE,
    KEY_MODES,
    REJECT,
    UPDATED_AT_MIN_MODE,
    filter_key_given,
)
from devstack.credly.listing import BadgeSelector, list_response, read_list_query
from devstack.credly.oauth import issue_access_token, render_oauth_error
from devstack.credly.records import AuthToken, CredlyData
from devstack.credly.render import BadgeRenderer, render_event, render_organization, render_token
from devstack.credly.webhooks import WebhookDispatcher
from devstack.lifecycle import Service
from devstack.standin import (
    HttpError,
    Knobs,
    Request,
    Response,
    StandInServer,
    TlsIdentity,
    route,
)

__all__ = [
    "DEFAULT_TOKEN_LIFETIME_S",
    "AccessGrant",
    "CredlyStandIn",
    "render_api_error",
    "render_oauth_error",
]


class CredlyStandIn(Service):
    """Credly's API ("api" server) and OAuth endpoint ("web" server) over one data store.

    Attributes:
        data: The store both servers read; tests may change it while they run.
        api: The API server; route classes "organization", "badges", "badge", "events",
            "tokens". Tests read `api.requests` and turn `api.knobs`; its mode
            `UPDATED_AT_MIN_MODE` says whether the badge list accepts, rejects (400) or
            ignores `updated_at_min`.
        web: The OAuth server; route class "oauth".
        page_url_base: Scheme and host (no `/v1`) used in `next_page_url` and
            `previous_page_url`; None for the API server's own base URL.
        access: Checks credentials and keeps the issued access tokens.
        selector: Filters, sorts and caches badge lists.
        webhooks: Delivers `data.events` to the organisations' `webhook_url`s (made on
            first use, never started by the stand-in itself).

    Args:
        data: The store to serve.
        token_lifetime_s: Lifetime of issued access tokens (`expires_in`).
        clock: Returns "now" as an aware UTC datetime; defaults to the real clock. Both
            authorization-token and access-token expiry read it.
        knobs: The API server's knobs (a fresh set when None).
        web_knobs: The OAuth server's own knobs, so API faults never hit token requests.
        api_port: Fixed port of the API server (0: any free port).
        web_port: Fixed port of the OAuth server (0: any free port).
        tls: Serve both over HTTPS with this identity.
    """

    def __init__(
        self,
        data: CredlyData,
        *,
        token_lifetime_s: int = DEFAULT_TOKEN_LIFETIME_S,
        clock: Callable[[], datetime] | None = None,
        knobs: Knobs | None = None,
        web_knobs: Knobs | None = None,
        api_port: int = 0,
        web_port: int = 0,
        tls: TlsIdentity | None = None,
    ) -> None:
        """Build both servers over `data`; `start()` serves them."""
        self.data = data
        self.page_url_base: str | None = None
        self.renderer = BadgeRenderer(data)
        self.access = AccessControl(data, clock=clock, token_lifetime_s=token_lifetime_s)
        self.selector = BadgeSelector(data)
        self._webhooks: WebhookDispatcher | None = None
        org = "/v1/organizations/{org}"
        self.api = StandInServer(
            "credly-api",
            [
                route("GET", "/v1/organizations", "organization", self._list_organizations),
                route("GET", org, "organization", self._get_organization),
                route("GET", f"{org}/badges", "badges", self._list_badges),
                route("GET", f"{org}/badges/{{badge}}", "badge", self._get_badge),
                route("GET", f"{org}/events/{{event}}", "events", self._get_event),
                route("GET", f"{org}/authorization_tokens", "tokens", self._list_tokens),
            ],
            render_api_error,
            knobs=knobs,
            port=api_port,
            tls=tls,
        )
        self.web = StandInServer(
            "credly-web",
            [route("POST", "/oauth/token", "oauth", self._issue_token)],
            render_oauth_error,
            knobs=web_knobs,
            port=web_port,
            tls=tls,
        )

    # -- lifecycle -------------------------------------------------------------------------

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
        """Stop both servers, and the webhook dispatcher's thread if it was started."""
        try:
            if self._webhooks is not None:
                self._webhooks.stop()
        finally:
            try:
                self.web.stop()
            finally:
                self.api.stop()

    # -- properties ------------------------------------------------------------------------

    @property
    def webhooks(self) -> WebhookDispatcher:
        """The webhook dispatcher over `data`, with default options, made on first use.

        Run it per pass (`deliver_pending()`) or in the background (`start()`); the stand-in's
        `stop()` stops it too. Assign a dispatcher built with other options to replace it.
        """
        if self._webhooks is None:
            self._webhooks = WebhookDispatcher(self.data)
        return self._webhooks

    @webhooks.setter
    def webhooks(self, dispatcher: WebhookDispatcher) -> None:
        if dispatcher.data is not self.data:
            raise ValueError("the webhook dispatcher must deliver this stand-in's data")
        previous, self._webhooks = self._webhooks, dispatcher
        if previous is not None and previous is not dispatcher:
            previous.stop()

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
    def clock(self) -> Callable[[], datetime]:
        """The stand-in's clock for token expiry (aware UTC datetimes)."""
        return self.access.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self.access.clock = clock

    @property
    def token_lifetime_s(self) -> int:
        """Lifetime of newly issued access tokens."""
        return self.access.token_lifetime_s

    @token_lifetime_s.setter
    def token_lifetime_s(self, seconds: int) -> None:
        self.access.token_lifetime_s = seconds

    @property
    def cache_min_badges(self) -> int:
        """Organisations with at least this many badges get their badge lists cached."""
        return self.selector.cache_min_badges

    @cache_min_badges.setter
    def cache_min_badges(self, count: int) -> None:
        self.selector.cache_min_badges = count

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
        return issue_access_token(request, self.data, self.access)

    # -- API routes ------------------------------------------------------------------------

    def _list_organizations(self, request: Request) -> Response:
        caller = self.access.authenticate(request)
        org = self.data.orgs.get(caller.org_id)
        orgs = [org] if org is not None else []
        query = read_list_query(request)
        return list_response(request, query, orgs, render_organization, self.page_url_base)

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
        given = filter_key_given(request.arg("filter"), "updated_at_min")
        if mode == REJECT and given:
            raise HttpError(400, "filter key 'updated_at_min' is not supported", "BadRequest")
        ignored = "updated_at_min" if mode == IGNORE else None
        query = read_list_query(request, filtered=True, ignored_key=ignored)
        selected = self.selector.select(org.id, query.badge_filter, query.sort_keys)
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

        def render(token: AuthToken) -> dict[str, Any]:
            return render_token(token, org)

        query = read_list_query(request)
        return list_response(request, query, tokens, render, self.page_url_base)


def _can_change(token: AuthToken) -> bool:
    return token.write_enabled or token.delete_enabled
