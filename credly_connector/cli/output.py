"""What every command shares: the context, flag checks, and printing an operation's answer."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from credly_connector.ops.answers import Answer

if TYPE_CHECKING:
    import argparse

    from credly_connector.pipeline.context import CrawlContext

# The exit code of a command stopped by Ctrl-C, as a shell reports it (128 + SIGINT).
INTERRUPTED = 130


def run_flags_valid(args: argparse.Namespace) -> bool:
    """Whether `--workers` and `--timeout` can run a crawl; if not, says so naming them."""
    if args.workers < 1 or args.timeout <= 0:
        sys.stderr.write("error: --workers must be at least 1 and --timeout above 0 seconds\n")
        return False
    return True


def say(line: str, out: TextIO) -> None:
    """Write one line to `out` at once (progress people watch)."""
    out.write(line + "\n")
    out.flush()


def ops_context() -> CrawlContext:
    """The context of an operation command, from the process environment."""
    from credly_connector.runtime import build_context  # noqa: PLC0415
    from credly_connector.settings import load_settings  # noqa: PLC0415

    return build_context(load_settings(os.environ))


def answered(answer: Answer) -> int:
    """Print an operation's JSON answer (errors to standard error); 0 when it succeeded."""
    (sys.stdout if answer.status < 400 else sys.stderr).write(answer.json() + "\n")
    return 0 if answer.status < 400 else 1


def refused(answer: Answer) -> int:
    """A refused operation as one line on standard error (`--json` prints the answer)."""
    from credly_connector.ops.cli_text import refusal  # noqa: PLC0415

    sys.stderr.write(refusal(answer))
    return 1


def shown(answer: Answer, as_json: bool, render: Callable[[dict[str, Any]], str]) -> int:
    """An answer as JSON with `--json`, else as text (a refusal as one line on stderr)."""
    if as_json:
        return answered(answer)
    if answer.status >= 400 or not isinstance(answer.body, dict):
        return refused(answer)
    sys.stdout.write(render(answer.body))
    return 0
