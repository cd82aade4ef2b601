"""The function table: each function of the app with its trigger, read from its bindings."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class FunctionTableError(ValueError):
    """The app declares something this host cannot run; the message names the function."""


@dataclass(frozen=True)
class HttpFunction:
    """One HTTP-triggered function as its binding declares it.

    Attributes:
        route: The route template below the route prefix, e.g. `ops/crawls/{crawl_id}`.
        methods: Upper-case HTTP methods.
        auth_level: `ANONYMOUS`, `FUNCTION` or `ADMIN`.
        argument: The name of the parameter receiving the request.
    """

    name: str
    route: str
    methods: tuple[str, ...]
    auth_level: str
    argument: str
    handler: Callable[..., Any] = field(compare=False)


@dataclass(frozen=True)
class QueueFunction:
    """One queue-triggered function: the queue it listens to and the connection setting."""

    name: str
    queue: str
    connection: str
    argument: str
    handler: Callable[..., Any] = field(compare=False)


@dataclass(frozen=True)
class TimerFunction:
    """One timer-triggered function: its schedule as written (`%SETTING%` unresolved)."""

    name: str
    schedule: str
    use_monitor: bool
    run_on_startup: bool
    argument: str
    handler: Callable[..., Any] = field(compare=False)


@dataclass(frozen=True)
class FunctionTable:
    """Every function of an app, by trigger."""

    http: tuple[HttpFunction, ...]
    queues: tuple[QueueFunction, ...]
    timers: tuple[TimerFunction, ...]

    def describe(self) -> list[dict[str, Any]]:
        """The table as JSON-ready rows (`python -m devstack host --list`), sorted by name."""
        rows: list[dict[str, Any]] = [
            {
                "name": f.name,
                "trigger": "http",
                "route": f.route,
                "methods": list(f.methods),
                "authLevel": f.auth_level,
            }
            for f in self.http
        ]
        rows += [
            {"name": f.name, "trigger": "queue", "queue": f.queue, "connection": f.connection}
            for f in self.queues
        ]
        rows += [
            {
                "name": f.name,
                "trigger": "timer",
                "schedule": f.schedule,
                "useMonitor": f.use_monitor,
            }
            for f in self.timers
        ]
        return sorted(rows, key=lambda row: str(row["name"]))


def function_table(functions: Iterable[Any]) -> FunctionTable:
    """The table of an app's indexed functions (`app.get_functions()`, callable once per app).

    Raises:
        FunctionTableError: For an async function, or one without a trigger this host runs.
    """
    http: list[HttpFunction] = []
    queues: list[QueueFunction] = []
    timers: list[TimerFunction] = []
    for function in functions:
        name, handler = str(function.get_function_name()), function.get_user_function()
        bindings = json.loads(function.get_function_json())["bindings"]
        triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
        kind = triggers[0]["type"] if len(triggers) == 1 else [b.get("type") for b in triggers]
        if inspect.iscoroutinefunction(handler):
            raise FunctionTableError(f"function {name}: async functions are not supported here")
        binding = triggers[0] if triggers else {}
        argument = str(binding.get("name"))
        if kind == "httpTrigger":
            methods = tuple(str(m).upper() for m in binding.get("methods") or ("GET", "POST"))
            auth_level = str(binding.get("authLevel", "FUNCTION")).upper()
            route = str(binding.get("route") or name)
            http.append(HttpFunction(name, route, methods, auth_level, argument, handler))
        elif kind == "queueTrigger":
            connection = str(binding.get("connection") or "AzureWebJobsStorage")
            queues.append(
                QueueFunction(name, str(binding["queueName"]), connection, argument, handler)
            )
        elif kind == "timerTrigger":
            use_monitor = bool(binding.get("useMonitor", True))
            on_startup = bool(binding.get("runOnStartup", False))
            schedule = str(binding["schedule"])
            timers.append(TimerFunction(name, schedule, use_monitor, on_startup, argument, handler))
        else:
            raise FunctionTableError(f"function {name}: trigger {kind} is not supported here")
    return FunctionTable(tuple(http), tuple(queues), tuple(timers))


def resolve_settings(text: str, env: Mapping[str, str]) -> str:
    """`text` with each `%NAME%` replaced by the app setting NAME, as the host resolves it.

    Raises:
        KeyError: Naming the first setting that is not set.
    """

    def value(found: re.Match[str]) -> str:
        if not env.get(found.group(1)):
            raise KeyError(found.group(1))
        return env[found.group(1)]

    return re.sub(r"%([^%]+)%", value, text)
