"""The people-settings routes: profile sources and profile property settings (precedence)."""

from __future__ import annotations

from devstack.graph.odata import collection_response, entity_response, refuse
from devstack.graph.people_settings_state import PeopleSettingsState
from devstack.graph.rules.people_settings import check_profile_source, check_property_setting
from devstack.standin import Request, Response

PROFILE_SOURCES = "admin/people/profileSources"
PROPERTY_SETTINGS = "admin/people/profilePropertySettings"


def _source_key(request: Request) -> str:
    """The sourceId from the URL (a quoted key doubles its single quotes)."""
    return request.params["sourceId"].replace("''", "'")


class PeopleApi:
    """Route handlers for `/admin/people/...`: rules check, state keeps."""

    def __init__(self, state: PeopleSettingsState) -> None:
        """Answer from `state` (the profile sources and property settings)."""
        self.state = state

    # -- profile sources -------------------------------------------------------------------

    def create_source(self, request: Request) -> Response:
        """`POST /admin/people/profileSources`."""
        body = request.json()
        refuse(check_profile_source(body, creating=True))
        created = self.state.create_profile_source(body)
        return entity_response(201, request, f"{PROFILE_SOURCES}/$entity", created)

    def list_sources(self, request: Request) -> Response:
        """`GET /admin/people/profileSources`."""
        return collection_response(request, PROFILE_SOURCES, self.state.profile_sources())

    def get_source(self, request: Request) -> Response:
        """`GET` a profile source by sourceId."""
        return Response.json(200, self.state.profile_source(_source_key(request)))

    def update_source(self, request: Request) -> Response:
        """`PATCH` a profile source (404 before the body is looked at)."""
        current = self.state.profile_source(_source_key(request))
        body = request.json()
        refuse(check_profile_source(body, creating=False, source_id=current["sourceId"]))
        return Response.json(200, self.state.update_profile_source(current["sourceId"], body))

    def delete_source(self, request: Request) -> Response:
        """`DELETE` a profile source."""
        self.state.delete_profile_source(_source_key(request))
        return Response.empty(204)

    # -- profile property settings ---------------------------------------------------------

    def list_settings(self, request: Request) -> Response:
        """`GET /admin/people/profilePropertySettings`."""
        return collection_response(request, PROPERTY_SETTINGS, self.state.property_settings())

    def create_setting(self, request: Request) -> Response:
        """`POST /admin/people/profilePropertySettings`."""
        body = request.json()
        refuse(check_property_setting(body, creating=True))
        return Response.json(201, self.state.create_property_setting(body))

    def get_setting(self, request: Request) -> Response:
        """`GET` a profile property setting by id."""
        return Response.json(200, self.state.property_setting(request.params["settingId"]))

    def update_setting(self, request: Request) -> Response:
        """`PATCH` a profile property setting (404 before the body is looked at)."""
        setting_id = request.params["settingId"]
        self.state.property_setting(setting_id)
        body = request.json()
        refuse(check_property_setting(body, creating=False))
        return Response.json(200, self.state.update_property_setting(setting_id, body))
