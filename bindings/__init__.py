"""The app's triggers by area, as blueprints that `function_app.py` registers.

Each trigger translates its input into one call of `credly_connector` and decides nothing:
a route hands its operation to the one ops runner (`ops.runner.run_operation`), a queue
trigger its message to the pipeline's dispatch, a timer its kind to the crawl launcher.
"""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from credly_connector.ops.answers import Answer
from credly_connector.ops.reports import CsvReport
from credly_connector.ops.runner import run_operation
from credly_connector.pipeline.context import CrawlContext

STORAGE = "AzureWebJobsStorage"
"""The connection setting of every queue trigger."""

Result = Answer | CsvReport


def context() -> CrawlContext:
    """The worker's pipeline context, built by `function_app` once per process."""
    import function_app  # noqa: PLC0415 - the app module holds the process's one context

    return function_app.context()


def answer(operation: Callable[[], Result], stage: str = "ops") -> func.HttpResponse:
    """Run a route's operation with the ops runner; its answer as the HTTP response."""
    result = run_operation(lambda: response(operation()), stage=stage)
    return result if isinstance(result, func.HttpResponse) else response(result)


def response(result: Result) -> func.HttpResponse:
    """An operation's answer as JSON, or its CSV report read whole (HTTP cannot stream here)."""
    if isinstance(result, CsvReport):
        return func.HttpResponse(
            result.body(),
            status_code=result.status,
            mimetype="text/csv",
            charset="utf-8",
            headers=result.headers,
        )
    return func.HttpResponse(
        result.json(),
        status_code=result.status,
        mimetype="application/json",
        headers=result.headers,
    )


def route_param(req: func.HttpRequest, name: str) -> str:
    """A route parameter's value ('' when absent)."""
    return str(req.route_params.get(name, ""))
