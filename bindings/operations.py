"""The operation routes under `ops/`: crawls, setup and health, people and the badge report."""

from __future__ import annotations

import os

import azure.functions as func

from bindings import answer, context, route_param
from credly_connector import about
from credly_connector.ops.answers import Answer
from credly_connector.ops.crawls import (
    cancel_crawl,
    crawl_status,
    list_crawls,
    retry_crawl,
    start_crawl,
)
from credly_connector.ops.health import health
from credly_connector.ops.overrides import delete_override, list_overrides, set_override
from credly_connector.ops.people import diagnose_person
from credly_connector.ops.preview import crawl_preview
from credly_connector.ops.rebuild import rebuild
from credly_connector.ops.reports import badge_report
from credly_connector.ops.runner import crawl_status_url
from credly_connector.ops.setup import setup
from credly_connector.ops.teardown import teardown

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # the library leaves it untyped


@bp.route(route="ops/version", methods=["GET"])
def ops_version(req: func.HttpRequest) -> func.HttpResponse:
    """Which build of the connector is deployed."""
    return answer(lambda: Answer(200, about()))


@bp.route(route="ops/crawls", methods=["POST"])
def ops_crawls_start(req: func.HttpRequest) -> func.HttpResponse:
    """Start a crawl: 202 with its id and status URL, 409 while one runs."""
    status_url = crawl_status_url(req.url)
    return answer(
        lambda: start_crawl(context(), req.get_body(), status_url=status_url, trigger="http")
    )


@bp.route(route="ops/crawls", methods=["GET"])
def ops_crawls_list(req: func.HttpRequest) -> func.HttpResponse:
    """The latest crawls first, with status and counts."""
    return answer(lambda: list_crawls(context(), req.params.get("limit")))


@bp.route(route="ops/crawls/{crawl_id}", methods=["GET"])
def ops_crawls_status(req: func.HttpRequest) -> func.HttpResponse:
    """One crawl's status and counts."""
    return answer(lambda: crawl_status(context(), route_param(req, "crawl_id")))


@bp.route(route="ops/crawls/{crawl_id}/retry", methods=["POST"])
def ops_crawls_retry(req: func.HttpRequest) -> func.HttpResponse:
    """Re-drive a failed crawl's failed pages or batches: 202, or 409 when it cannot."""
    status_url = crawl_status_url(req.url)
    return answer(
        lambda: retry_crawl(context(), route_param(req, "crawl_id"), status_url=status_url)
    )


@bp.route(route="ops/crawls/{crawl_id}/cancel", methods=["POST"])
def ops_crawls_cancel(req: func.HttpRequest) -> func.HttpResponse:
    """End a queued or running crawl as cancelled: 200, or 409 once it has ended."""
    return answer(lambda: cancel_crawl(context(), route_param(req, "crawl_id")))


@bp.route(route="ops/crawls/{crawl_id}/preview", methods=["GET"])
def ops_crawls_preview(req: func.HttpRequest) -> func.HttpResponse:
    """A dry-run crawl's per-person preview (`?limit=N&after=USER` pages through it)."""
    limit, after = req.params.get("limit"), req.params.get("after")
    return answer(
        lambda: crawl_preview(context(), route_param(req, "crawl_id"), limit=limit, after=after)
    )


@bp.route(route="ops/setup", methods=["POST"])
def ops_setup(req: func.HttpRequest) -> func.HttpResponse:
    """Create what is missing of the connection, schema and profile source; each step's state."""
    return answer(lambda: setup(context(), req.get_body()))


@bp.route(route="ops/teardown", methods=["POST"])
def ops_teardown(req: func.HttpRequest) -> func.HttpResponse:
    """What teardown would remove; with `{"confirm": "<connection id>"}`, remove it."""
    return answer(lambda: teardown(context(), req.get_body()))


@bp.route(route="ops/rebuild", methods=["POST"])
def ops_rebuild(req: func.HttpRequest) -> func.HttpResponse:
    """Rebuild onto `{"to": "<new id>"}` for up to 150 s a call; call again to resume."""
    return answer(lambda: rebuild(context(), req.get_body()))


@bp.route(route="ops/health", methods=["GET"])
def ops_health(req: func.HttpRequest) -> func.HttpResponse:
    """Every check with its cause and fix: 200 when all pass, 503 otherwise.

    Reads the app settings itself rather than the built context, so invalid settings are
    reported as failed checks instead of failing the request.
    """
    return answer(lambda: health(os.environ))


@bp.route(route="ops/people/{email}", methods=["GET"])
def ops_people_diagnose(req: func.HttpRequest) -> func.HttpResponse:
    """Why a person's badges are shown or not: identity, each badge's decision, last write."""
    return answer(lambda: diagnose_person(context(), route_param(req, "email")))


@bp.route(route="ops/identity-overrides/{email}", methods=["PUT"])
def ops_identity_overrides_put(req: func.HttpRequest) -> func.HttpResponse:
    """Map a Credly email to an Entra user by UPN, and recompose both people at once.

    The actor is the signed-in principal when App Service authentication is on, else `http`.
    """
    actor = str(req.headers.get("x-ms-client-principal-name") or "http")[:200]
    email = route_param(req, "email")
    return answer(lambda: set_override(context(), email, req.get_body(), actor=actor))


@bp.route(route="ops/identity-overrides/{email}", methods=["DELETE"])
def ops_identity_overrides_delete(req: func.HttpRequest) -> func.HttpResponse:
    """Remove an override (404 when there is none) and recompose who it affected."""
    return answer(lambda: delete_override(context(), route_param(req, "email")))


@bp.route(route="ops/identity-overrides", methods=["GET"])
def ops_identity_overrides_list(req: func.HttpRequest) -> func.HttpResponse:
    """Every identity override and whom it resolves to now."""
    return answer(lambda: list_overrides(context()))


@bp.route(route="ops/reports/badges.csv", methods=["GET"])
def ops_reports_badges(req: func.HttpRequest) -> func.HttpResponse:
    """CSV of every known badge (`?expiringWithin=DAYS` filters), built from a lazy scan.

    Not streamed: HTTP streams need the FastAPI extension, which switches every HTTP function
    of the app to its request/response types.
    """
    return answer(lambda: badge_report(context(), req.params.get("expiringWithin")))
