"""The bound functions' process: a test pipeline's settings as the environment they read."""

from __future__ import annotations

import pytest

import function_app
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.messages import STAGES
from credly_connector.stores.tables import TABLE_NAMES
from tests.pipeline.conftest import Pipeline


def bind_to_environment(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> CrawlContext:
    """Make the bindings read `pipeline`'s settings from the process environment.

    Args:
        pipeline: The pipeline whose stack's settings the bindings should use.
        monkeypatch: Sets the environment and the bindings' context for this test only.

    Returns:
        The bindings' context, over empty fixed-name tables and queues.
    """
    env = dict(pipeline.stack.env)
    env.pop("STORAGE_PREFIX")  # the bindings use the fixed table and queue names
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The bindings build their context once per process; start from none for this test.
    monkeypatch.setattr(function_app, "_context", None)
    ctx = function_app.context()
    # The fixed names are shared with other tests of the session: start them empty.
    for role in TABLE_NAMES:
        ctx.tables.service.delete_table(ctx.tables.name(role))
    ctx.tables.ensure()
    ctx.queues.ensure()
    for stage in STAGES:
        ctx.queues.client(stage).clear_messages()
    return ctx
