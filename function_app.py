"""Azure Functions app: the composition root, and the blueprints of its triggers by area.

The pipeline context is built on first use, once per worker process, from the app settings
(`runtime.host_context`); a bad setting fails that first invocation with a message naming
the setting and its fix. The triggers themselves are in `bindings/`:
- `bindings/crawls.py`: the two crawl schedules and one queue trigger per pipeline stage;
- `bindings/operations.py`: the routes under `ops/`;
- `bindings/webhooks.py`: Credly's webhook route and the queue trigger acting on each event.
"""

from __future__ import annotations

import os
import threading

import azure.functions as func

from bindings import crawls, operations, webhooks
from credly_connector.pipeline.context import CrawlContext
from credly_connector.runtime import host_context

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for area in (crawls, operations, webhooks):
    app.register_functions(area.bp)

_context: CrawlContext | None = None
_lock = threading.Lock()


def context() -> CrawlContext:
    """The process's pipeline context, built from the app settings on first use."""
    global _context  # noqa: PLW0603 - one context per worker process
    with _lock:
        if _context is None:
            _context = host_context(os.environ)
        return _context
