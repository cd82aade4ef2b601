"""Reading the directory through users/delta: a round's requests, its pages, the changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.graph_service_client import GraphServiceClient

from credly_connector.directory import DirectoryChange, DirectoryUser
from credly_connector.errors import RequestError
from credly_connector.graph.transport import BuildRequest, GraphTransport
from credly_connector.origins import same_origin

DeltaQuery = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters

USER_SELECT = (
    "id",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "accountEnabled",
    "assignedLicenses",
)
"""What the first delta call selects: identity matching and eligibility need no more."""
DEFAULT_DELTA_PAGE_SIZE = 200
"""`Prefer: odata.maxpagesize` for users/delta (Graph caps user pages at about 200)."""


@dataclass(frozen=True, slots=True)
class DeltaPage:
    """One users/delta page: its changes, and the link to the next page or the next round."""

    changes: list[DirectoryChange]
    next_link: str | None
    delta_link: str | None


def directory_change(raw: Mapping[str, Any]) -> DirectoryChange:
    """A users/delta entry as a change: `@removed` entries become removals."""
    user_id = str(raw["id"])
    if "@removed" in raw:
        return DirectoryChange(user_id, None)
    user = DirectoryUser(
        id=user_id,
        user_principal_name=str(raw.get("userPrincipalName") or ""),
        mail=raw.get("mail") or None,
        proxy_addresses=tuple(str(a) for a in raw.get("proxyAddresses") or ()),
        account_enabled=raw.get("accountEnabled") is not False,
        licensed=bool(raw.get("assignedLicenses")),
    )
    return DirectoryChange(user_id, user)


def delta_page(payload: Mapping[str, Any]) -> DeltaPage:
    """A users/delta answer body as a `DeltaPage`."""
    return DeltaPage(
        changes=[directory_change(raw) for raw in payload.get("value") or ()],
        next_link=payload.get("@odata.nextLink"),
        delta_link=payload.get("@odata.deltaLink"),
    )


async def delta_round(
    service: GraphServiceClient,
    transport: GraphTransport,
    delta_link: str | None,
    page_size: int = DEFAULT_DELTA_PAGE_SIZE,
) -> AsyncIterator[DeltaPage]:
    """Pages of one users/delta round, following next links until the delta link.

    Every link followed, stored or sent, must name the configured Graph URL's scheme, host and
    port: a link naming another would take the token there, so it is never sent.

    Args:
        service: The SDK client whose request builders shape the calls.
        transport: Sends them (retries, reports, error translation).
        delta_link: The previous round's delta link; None reads the whole directory.
        page_size: Users per page asked for.

    Raises:
        DeltaExpiredError: The sync state is gone; start again without a delta link.
        RequestError: A repeated next link, or a link to another origin.
    """
    base_url = service.request_adapter.base_url
    if delta_link is not None and not same_origin(delta_link, base_url):
        raise RequestError("users/delta: the stored delta link names another host")
    link = delta_link
    seen: set[str] = set()
    while True:
        request = _delta_request(service, link, page_size)
        page = delta_page(await transport.call("GET", "users.delta", request, decode=True))
        yield page
        if page.delta_link is not None or page.next_link is None:
            return
        if page.next_link in seen:
            raise RequestError(f"users/delta repeated a next link: {page.next_link}")
        if not same_origin(page.next_link, base_url):
            raise RequestError("users/delta sent a next link to another host; not followed")
        seen.add(page.next_link)
        link = page.next_link


def _delta_request(service: GraphServiceClient, link: str | None, page_size: int) -> BuildRequest:
    def request() -> RequestInformation:
        delta = service.users.delta
        if link is None:
            config = RequestConfiguration[DeltaQuery](
                query_parameters=DeltaQuery(select=list(USER_SELECT))
            )
        else:
            # Next and delta links carry the query on; they are absolute URLs.
            delta = delta.with_url(link)
            config = RequestConfiguration[DeltaQuery]()
        config.headers.add("Prefer", f"odata.maxpagesize={page_size}")
        return delta.to_get_request_information(config)

    return request
