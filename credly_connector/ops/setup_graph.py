"""Setup's Graph steps: the connection, its schema, the profile source and its precedence.

Every step reads first and writes only what is missing or different, so a second run writes
nothing. A registered schema is compared, never sent again (Graph refuses to change a people
connection's schema).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from credly_connector.errors import ConflictError, ConnectorError, RequestError
from credly_connector.graph.client import GraphClient
from credly_connector.graph.profile_source import (
    is_first,
    org_wide_setting,
    precedence,
    profile_source_body,
    source_changes,
    source_url,
    with_source_first,
)
from credly_connector.graph.provisioning import PEOPLE, ProvisioningClient
from credly_connector.graph.schema import schema_differences
from credly_connector.ops.checks import describe_error
from credly_connector.ops.setup_report import (
    CREATED,
    FAILED,
    IN_PROGRESS,
    PRESENT,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    SchemaProgress,
    SetupReport,
    SetupStep,
)

UPDATE_NOT_ALLOWED = "UpdateNotAllowed"
_RERUN = "run setup again (python -m credly_connector setup, or POST /api/ops/setup)"


Progress = Callable[[SchemaProgress], None]


class GraphSetup:
    """Setup's Graph steps for one connection, each reading first and writing what is missing."""

    def __init__(
        self,
        graph: GraphClient,
        connection_id: str,
        web_url: str,
        schema: Sequence[Mapping[str, Any]],
        *,
        wait_s: float,
        poll_s: float,
        on_progress: Progress | None,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        with_precedence: bool = True,
    ) -> None:
        """The steps with `run_setup`'s arguments (which documents each)."""
        self.graph = ProvisioningClient(graph)
        self.with_precedence = with_precedence
        self.connection_id = connection_id
        self.web_url = web_url
        self.schema = schema
        self.wait_s, self.poll_s = wait_s, poll_s
        self.on_progress = on_progress
        self.sleep, self.clock = sleep, clock
        self.connection_state = ""

    async def run(self) -> SetupReport:
        """Run the four steps; a failed connection skips the rest, a failed source the order."""
        connection = await self._guard("connection", self.connection)
        if connection.state == FAILED:
            rest = ("schema", "profile source", "precedence")
            return SetupReport((connection, *(_skipped(name, "connection") for name in rest)))
        # The profile source does not depend on the schema: register it even if that failed.
        schema = await self._guard("schema", self.schema_step)
        source = await self._guard("profile source", self.profile_source)
        if not self.with_precedence:  # a rebuild swaps the precedence entry itself, later
            return SetupReport((connection, schema, source))
        if source.state == FAILED:
            order = _skipped("precedence", "profile source")
        else:
            order = await self._guard("precedence", self.precedence)
        return SetupReport((connection, schema, source, order))

    async def _guard(self, name: str, step: Callable[[], Awaitable[SetupStep]]) -> SetupStep:
        try:
            return await step()
        except ConnectorError as error:
            cause, fix = describe_error(error, f"fix the cause, then {_RERUN}")
            return SetupStep(name, FAILED, "Graph refused or failed the request", cause, fix)

    async def connection(self) -> SetupStep:
        """The people connection: created when missing, refused when of another category."""
        found = await self.graph.get_connection(self.connection_id)
        state = PRESENT
        if found is None:
            try:
                found, state = await self.graph.create_connection(self.connection_id), CREATED
            except ConflictError:  # created meanwhile, or Graph's 503-then-409 quirk
                found = await self.graph.get_connection(self.connection_id)
        if found is None:
            raise ConflictError(f"Connection {self.connection_id} answered 409 but cannot be read")
        self.connection_state = str(found.get("state") or "")
        category = found.get("contentCategory")
        if category != PEOPLE:
            return SetupStep(
                "connection",
                FAILED,
                f"connection {self.connection_id} exists",
                f"its contentCategory is {category!r}, not {PEOPLE!r}",
                "set GRAPH_CONNECTION_ID to an unused id (or delete that connection), then "
                + _RERUN,
            )
        detail = f"connection {self.connection_id} (people, state {self.connection_state})"
        return SetupStep("connection", state, detail)

    async def schema_step(self) -> SetupStep:
        """The schema: compared when registered, else registered and followed."""
        registered = await self.graph.get_schema(self.connection_id)
        if registered is not None:
            differences = schema_differences(self.schema, registered.get("properties") or [])
            if not differences:
                names = ", ".join(str(p["name"]) for p in self.schema)
                return SetupStep("schema", PRESENT, f"registered and as expected ({names})")
            return SetupStep(
                "schema",
                FAILED,
                "a different schema is registered; it was left as it is",
                "; ".join(differences),
                "a people connection's schema cannot be changed: delete the connection (or set "
                f"GRAPH_CONNECTION_ID to a new id), then {_RERUN}",
            )
        try:
            operation_id = await self.graph.register_schema(self.connection_id, self.schema)
        except RequestError as error:
            if error.code != UPDATE_NOT_ALLOWED or self.connection_state == "ready":
                raise
            return SetupStep(
                "schema",
                IN_PROGRESS,
                "a schema registration started earlier is still running",
                str(error),
                f"wait a few minutes, then {_RERUN}",
            )
        return await self._follow(operation_id)

    async def _follow(self, operation_id: str) -> SetupStep:
        started, polls = self.clock(), 0
        while True:
            operation = await self.graph.get_operation(self.connection_id, operation_id)
            polls += 1
            elapsed = self.clock() - started
            if self.on_progress is not None:
                self.on_progress(SchemaProgress(operation_id, operation.status, elapsed, polls))
            if operation.status == "completed":
                return SetupStep("schema", CREATED, f"registered (operation {operation_id})")
            if operation.status == "failed":
                return SetupStep(
                    "schema",
                    FAILED,
                    f"Graph's schema operation {operation_id} failed",
                    operation.error or "Graph gave no error",
                    f"fix what Graph names, then {_RERUN}; a failed registration leaves no "
                    "schema behind",
                )
            if elapsed + self.poll_s > self.wait_s:
                return SetupStep(
                    "schema",
                    IN_PROGRESS,
                    f"operation {operation_id} still {operation.status} after {elapsed:.0f} s",
                    "Graph takes 5-15 minutes to register a schema",
                    f"{_RERUN} later: it compares the registered schema",
                )
            await self.sleep(self.poll_s)

    async def profile_source(self) -> SetupStep:
        """The profile source: created when missing, updated where it differs."""
        wanted = profile_source_body(self.connection_id, self.web_url)
        detail = f"sourceId {self.connection_id}, webUrl {wanted['webUrl']}"
        current = await self.graph.get_profile_source(self.connection_id)
        if current is None:
            try:
                await self.graph.create_profile_source(wanted)
                return SetupStep("profile source", CREATED, detail)
            except ConflictError:
                current = await self.graph.get_profile_source(self.connection_id)
        changes = source_changes(current or {}, wanted)
        if not changes:
            return SetupStep("profile source", PRESENT, detail)
        await self.graph.update_profile_source(self.connection_id, changes)
        return SetupStep("profile source", UPDATED, f"{detail} ({', '.join(sorted(changes))})")

    async def precedence(self) -> SetupStep:
        """The precedence: Credly first in the organisation-wide setting."""
        url = source_url(self.connection_id)
        setting = org_wide_setting(await self.graph.property_settings())
        if setting is None:
            await self.graph.create_org_wide_setting([url])
            return SetupStep("precedence", CREATED, "organisation-wide setting: Credly first")
        urls = precedence(setting)
        if is_first(urls, url):
            return SetupStep("precedence", UNCHANGED, f"Credly first of {len(urls)} source(s)")
        ordered = with_source_first(urls, url)
        await self.graph.set_precedence(str(setting["id"]), ordered)
        kept = len(ordered) - 1
        return SetupStep("precedence", UPDATED, f"Credly first, {kept} other source(s) kept")


def _skipped(name: str, after: str) -> SetupStep:
    return SetupStep(name, SKIPPED, f"not tried: the {after} step failed")
