"""The loopback HTTP stand-in framework: server, routes, knobs, request log, TLS, control API."""

from devstack.standin.knobs import Fault, FaultKind, Knobs, RateLimit, Throttle
from devstack.standin.messages import (
    ErrorRenderer,
    Handler,
    HttpError,
    Request,
    Response,
    Route,
    route,
)
from devstack.standin.request_log import LoggedRequest, RequestLog
from devstack.standin.server import LOOPBACK, StandInServer
from devstack.standin.tls import TlsIdentity
from devstack.standin.wire import MAX_REQUEST_BODY

__all__ = [
    "LOOPBACK",
    "MAX_REQUEST_BODY",
    "ErrorRenderer",
    "Fault",
    "FaultKind",
    "Handler",
    "HttpError",
    "Knobs",
    "LoggedRequest",
    "RateLimit",
    "Request",
    "RequestLog",
    "Response",
    "Route",
    "StandInServer",
    "Throttle",
    "TlsIdentity",
    "route",
]
