"""Item-write rules of the Graph stand-in that span services: the ACL's tenant, a source's warm-up.

`ItemGate` wraps the item routes: an item whose `everyone` ACL entry does not name the tenant is
refused with 400, and, when the knob mode `WARMUP_MODE` says N seconds, item writes to a
connection are refused with 409 `ProfileSourceNotReady` (and a `Retry-After`) for N seconds
after a profile source with the connection's id was registered, as field reports say Graph does
for about a minute.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from devstack.graph.rules.items import check_everyone_value
from devstack.graph.rules.problems import refuse
from devstack.standin import Handler, HttpError, Knobs, Request, Response

WARMUP_MODE = "graph.items.refused_after_profile_source_s"
"""Knob mode: seconds after a profile source's registration its connection refuses item writes."""
NOT_READY_CODE = "ProfileSourceNotReady"
"""The OData error code of that refusal."""


@dataclass(frozen=True)
class ItemGate:
    """Checks item writes against the tenant and the profile sources' registration times.

    `knobs` returns the server's knobs (read at every request, so tests can turn them);
    `registered_at` says when a profile source was registered, on the monotonic `clock`.
    """

    tenant_id: str
    knobs: Callable[[], Knobs]
    registered_at: Callable[[str], float | None]
    clock: Callable[[], float]

    def writing(self, handler: Handler, *, put: bool) -> Handler:
        """`handler` (an item PUT or DELETE) behind the warm-up and, for a PUT, the ACL rule."""

        def checked(request: Request) -> Response:
            self._refuse_while_warming(request.params["connectionId"])
            body = request.json() if put else None
            if isinstance(body, dict):
                refuse(check_everyone_value(body.get("acl"), self.tenant_id))
            return handler(request)

        return checked

    def _refuse_while_warming(self, connection_id: str) -> None:
        raw = self.knobs().mode(WARMUP_MODE, "0")
        try:
            warmup_s = float(raw)
        except ValueError:
            raise HttpError(500, f"stand-in mode {WARMUP_MODE}={raw!r} is not seconds") from None
        registered = self.registered_at(connection_id)
        if registered is None or warmup_s <= 0:
            return
        left = registered + warmup_s - self.clock()
        if left > 0:
            raise HttpError(
                409,
                f"The profile source '{connection_id}' was registered moments ago and does not "
                "accept items yet. Retry later.",
                NOT_READY_CODE,
                headers={"Retry-After": str(math.ceil(left))},
            )
