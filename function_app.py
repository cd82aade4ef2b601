"""Azure Functions bindings: each trigger translates its input into one call of the core."""

from __future__ import annotations

import json

import azure.functions as func

from credly_connector import about

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.function_name("ops_version")
@app.route(route="ops/version", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_version(req: func.HttpRequest) -> func.HttpResponse:
    """Which build of the connector is deployed."""
    return func.HttpResponse(json.dumps(about()), mimetype="application/json")
