"""The Credly Web Service API client: auth, requests as data, pages, and error translation."""

from credly_connector.credly.auth import DEFAULT_SCOPE, CredlyAuth, OAuthAuth, TokenAuth
from credly_connector.credly.client import BadgePage, CredlyClient, OnRequest
from credly_connector.credly.errors import (
    PRODUCTION_API_URL,
    SANDBOX_API_URL,
    CredlyNotFoundError,
)
from credly_connector.credly.queries import STABLE_SORTS, BadgeQuery

__all__ = [
    "DEFAULT_SCOPE",
    "PRODUCTION_API_URL",
    "SANDBOX_API_URL",
    "STABLE_SORTS",
    "BadgePage",
    "BadgeQuery",
    "CredlyAuth",
    "CredlyClient",
    "CredlyNotFoundError",
    "OAuthAuth",
    "OnRequest",
    "TokenAuth",
]
