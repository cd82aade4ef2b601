"""Item-write rules of the Graph stand-in that span services: the ACL's tenant, a source's warm-up.

`ItemGate` wraps the item routes of `ConnectorsApi` and the profile-source creation of
`PeopleApi`: an item whose `everyone` ACL entry does not name the tenant is refused with 400,
and, when the knob mode `WARMUP_MODE` says N seconds, item writes to a connection are refused
with 409 `ProfileSourceNotReady` (and a `Retry-After`) for N seconds after a profile source
with the connection's id was registered, as field reports say Graph does for about a minute.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from devstack.graph.odata import refuse
from devstack.graph.rules.items import check_everyone_value
from devstack.standin import HttpError, Knobs, Request, Response

Handler = Callable[[Request], Response]

WARMUP_MODE = "graph.items.refused_after_profile_source_s"
"""Knob mode: seconds after a profile source's registration its connection refuses item writes."""
NOT_READY_CODE = "ProfileSourceNotReady"
"""The OData error code of that refusal."""


class ItemGate:
    """Checks item writes against the tenant and the profile sources' registration times."""

    def __init__(self, tenant_id: str, knobs: Callable[[], Knobs], clock: Callable[[], float]):
        """Gate writes for `tenant_id`.

        Args:
            tenant_id: The stand-in's tenant id, the only `everyone` ACL value accepted.
            knobs: Returns the server's knobs (read at every request, so tests can turn them).
            clock: Monotonic seconds.
        """
        self.tenant_id = tenant_id
        self._knobs = knobs
        self._clock = clock
        self._registered: dict[str, float] = {}
        self._lock = threading.Lock()

    def registering(self, handler: Handler) -> Handler:
        """`handler` (profile source creation) noting when each source was registered."""

        def registered(request: Request) -> Response:
            response = handler(request)
            if response.status == 201:
                source_id = str(request.json().get("sourceId", ""))
                with self._lock:
                    self._registered[source_id.casefold()] = self._clock()
            return response

        return registered

    def writing(self, handler: Handler, *, put: bool) -> Handler:
        """`handler` (an item PUT or DELETE) behind the warm-up and, for a PUT, the ACL rule."""

        def checked(request: Request) -> Response:
            self._refuse_while_warming(request.params["connectionId"])
            if put:
                body = request.json()
                if isinstance(body, dict):
                    refuse(check_everyone_value(body.get("acl"), self.tenant_id))
            return handler(request)

        return checked

    def _refuse_while_warming(self, connection_id: str) -> None:
        raw = self._knobs().mode(WARMUP_MODE, "0")
        try:
            warmup_s = float(raw)
        except ValueError:
            raise HttpError(500, f"stand-in mode {WARMUP_MODE}={raw!r} is not seconds") from None
        with self._lock:
            registered = self._registered.get(connection_id.casefold())
        if registered is None or warmup_s <= 0:
            return
        left = registered + warmup_s - self._clock()
        if left > 0:
            raise HttpError(
                409,
                f"The profile source '{connection_id}' was registered moments ago and does not "
                "accept items yet. Retry later.",
                NOT_READY_CODE,
                headers={"Retry-After": str(math.ceil(left))},
            )
