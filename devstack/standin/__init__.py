"""The loopback HTTP stand-in framework: server, routes, knobs, request log, TLS."""

from devstack.standin.knobs import Fault, FaultKind, Knobs, RateLimit
from devstack.standin.loopback import LOOPBACK
from devstack.standin.messages import Handler, HttpError, Request, Response, Route, route
from devstack.standin.request_log import LoggedRequest, RequestLog
from devstack.standin.server import MAX_REQUEST_BODY, StandInServer
from devstack.standin.tls import TlsIdentity

__all__ = [
    "LOOPBACK",
    "MAX_REQUEST_BODY",
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
    "TlsIdentity",
    "route",
]
