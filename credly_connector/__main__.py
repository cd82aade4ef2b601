"""Command line of the connector: `python -m credly_connector <command>`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from credly_connector import about
from credly_connector.errors import ConfigurationError
from credly_connector.ops.answers import Answer

if TYPE_CHECKING:
    from credly_connector.pipeline.context import CrawlContext


# The exit code of a command stopped by Ctrl-C, as a shell reports it (128 + SIGINT).
INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m credly_connector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    version = commands.add_parser("version", help="print the product name and version")
    version.add_argument("--json", action="store_true", help="print the JSON answer")
    crawl = commands.add_parser(
        "crawl",
        help="run one crawl to completion through the configured storage's queues"
        " (continuing the organisation's unfinished crawl, if any)",
    )
    crawl.add_argument("--kind", choices=("full", "incremental"), default="incremental")
    crawl.add_argument("--workers", type=int, default=4, help="handler threads (default 4)")
    crawl.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")
    crawl.add_argument("--quiet", action="store_true", help="no progress bar")
    crawl.add_argument(
        "--organization", help="the organisation id to crawl (default: every configured one)"
    )
    crawl.add_argument(
        "--dry-run", action="store_true", help="write nothing to Graph; record a preview instead"
    )
    crawl.add_argument(
        "--lease",
        type=int,
        default=30,
        metavar="SECONDS",
        help="how long a message taken here stays hidden unless renewed (default 30)",
    )
    crawl.add_argument(
        "--no-resume",
        action="store_true",
        help="refuse when a crawl of the organisation is unfinished (default: continue it here)",
    )
    crawl.add_argument(
        "--json", action="store_true", help="print each crawl's record as JSON (summary: stderr)"
    )
    diagnose = commands.add_parser("diagnose", help="why a person's badges are shown or not")
    diagnose.add_argument("email", help="the recipient email of the person's badges")
    diagnose.add_argument("--json", action="store_true", help="print the JSON answer")
    _add_override_command(commands)
    report = commands.add_parser("report", help="CSV of every known badge and its status")
    report.add_argument("--expiring-within", metavar="DAYS", help="only badges expiring soon")
    report.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    _add_crawl_commands(commands)
    preview = commands.add_parser("preview", help="render a dry run's preview as an HTML page")
    preview.add_argument("--out", metavar="DIR", required=True, help="writes DIR/index.html")
    preview.add_argument("--crawl", metavar="ID", help="the dry-run crawl (default: the latest)")
    preview.add_argument("--json", action="store_true", help="print the JSON answer")
    setup = commands.add_parser(
        "setup", help="create the Graph connection, schema and profile source (idempotent)"
    )
    setup.add_argument("--wait", type=float, default=1200.0, help="schema wait, s (default 1200)")
    setup.add_argument("--json", action="store_true", help="print the JSON answer")
    health = commands.add_parser("health", help="check settings, Credly, Graph and crawls")
    health.add_argument("--json", action="store_true", help="print the JSON answer")
    _add_lifecycle_commands(commands)
    # Each command: its name -> the function running it (add new commands here).
    runners: dict[str, Callable[[argparse.Namespace], int]] = {
        "crawl": _crawl,
        "diagnose": _diagnose,
        "override": _override,
        "report": _report,
        "preview": _preview,
        "status": _status,
        "crawls": _crawls,
        "cancel": _cancel,
        "retry": _retry,
        "setup": _setup,
        "health": _health,
        "teardown": _teardown,
        "rebuild": _rebuild,
    }
    args = parser.parse_args(argv)
    if args.command == "version":
        shown = about()
        sys.stdout.write(
            (json.dumps(shown) if args.json else f"{shown['name']} {shown['version']}") + "\n"
        )
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _observed(runners[args.command], args)
    except ConfigurationError as error:
        sys.stderr.write(f"{error}\n")
        return 2
    except KeyboardInterrupt:
        # Ctrl-C outside a crawl's dispatching (which says more itself): no traceback.
        sys.stderr.write("interrupted\n")
        return INTERRUPTED


def _add_override_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`override set|delete|list`: identity overrides."""
    override = commands.add_parser("override", help="map a Credly email to an Entra user")
    actions = override.add_subparsers(dest="action", required=True)
    set_one = actions.add_parser("set", help="set (or replace) an override")
    set_one.add_argument("email", help="the Credly recipient email")
    set_one.add_argument("upn", help="the userPrincipalName of the Entra user")
    delete = actions.add_parser("delete", help="remove an override")
    delete.add_argument("email", help="the Credly recipient email")
    listed = actions.add_parser("list", help="list every override")
    for action in (set_one, delete, listed):
        action.add_argument("--json", action="store_true", help="print the JSON answer")


def _add_crawl_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that look after crawls once started: status, crawls, cancel, retry."""
    status = commands.add_parser("status", help="a crawl's status, counts and failed steps")
    status.add_argument("crawl_id", metavar="CRAWL_ID")
    status.add_argument("--json", action="store_true", help="print the JSON answer")
    crawls = commands.add_parser("crawls", help="the latest crawls as a table")
    crawls.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    crawls.add_argument("--json", action="store_true", help="print the JSON answer")
    cancel = commands.add_parser(
        "cancel", help="end a queued or running crawl and free its organisation at once"
    )
    cancel.add_argument("crawl_id", metavar="CRAWL_ID")
    cancel.add_argument("--json", action="store_true", help="print the JSON answer")
    retry = commands.add_parser(
        "retry", help="re-drive the failed pages or profile batches of a failed crawl"
    )
    retry.add_argument("crawl_id", metavar="CRAWL_ID")
    retry.add_argument("--no-wait", action="store_true", help="only send the messages again")
    retry.add_argument("--workers", type=int, default=4, help="handler threads (default 4)")
    retry.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")
    retry.add_argument("--json", action="store_true", help="print the JSON answer")


def _add_lifecycle_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Removing the connector, and rebuilding it onto a new connection."""
    teardown = commands.add_parser(
        "teardown", help="remove the connection, its items, profile source and precedence entry"
    )
    teardown.add_argument(
        "--confirm", metavar="CONNECTION_ID", help="remove (without it: only list what would go)"
    )
    teardown.add_argument("--storage", action="store_true", help="also the tables and queues")
    teardown.add_argument("--wait", type=float, default=600.0, help="delete wait, s (default 600)")
    teardown.add_argument("--json", action="store_true", help="print the JSON answer")
    rebuild = commands.add_parser(
        "rebuild", help="move onto a new connection without a gap on profiles (resumable)"
    )
    rebuild.add_argument("--to", metavar="NEW_ID", required=True, help="the new connection id")
    rebuild.add_argument("--workers", type=int, default=4, help="handler threads (default 4)")
    rebuild.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
    rebuild.add_argument("--json", action="store_true", help="print the JSON answer")


def _observed(runner: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command with the SDK loggers quiet, in an `ops` telemetry scope."""
    from credly_connector import telemetry  # noqa: PLC0415 - not needed by `version`

    telemetry.quiet_sdk_loggers()
    with telemetry.scope(stage="ops"):
        return runner(args)


def _crawl(args: argparse.Namespace) -> int:
    # Imported here so `version` works without the runtime's dependencies configured.
    from credly_connector.local.crawl import print_summary, resuming, run_crawl  # noqa: PLC0415
    from credly_connector.local.progress import Progress  # noqa: PLC0415
    from credly_connector.runtime import build_context  # noqa: PLC0415
    from credly_connector.settings import load_settings  # noqa: PLC0415

    if args.lease < 1:
        sys.stderr.write("error: --lease must be at least 1 second\n")
        return 2
    if not _run_flags_valid(args):
        return 2
    ctx = build_context(load_settings(os.environ))
    organizations = [args.organization] if args.organization else ctx.options.organizations
    if args.organization and args.organization not in ctx.options.organizations:
        sys.stderr.write(
            f"error: --organization {args.organization} is not configured; configured:"
            f" {', '.join(ctx.options.organizations)}\n"
        )
        return 2
    # With --json, standard output carries only the JSON; the words people read go to stderr.
    said = sys.stderr if args.json else sys.stdout
    shown: list[dict[str, Any]] = []
    succeeded, interrupted = True, False
    for organization in organizations:
        result = run_crawl(
            ctx,
            args.kind,
            organization_id=organization,
            dry_run=args.dry_run,
            workers=args.workers,
            timeout_s=args.timeout,
            progress=None if args.quiet else Progress(),
            resume=not args.no_resume,
            on_resume=lambda record: _say(resuming(record), said),
            lease_s=args.lease,
        )
        print_summary(result, said)
        if result.record is not None:
            shown.append(result.record.to_json())
        else:
            shown.append({"organizationId": organization, "runningCrawlId": result.busy_with})
        if result.interrupted:
            interrupted = True
            break
        succeeded = succeeded and result.succeeded
    if args.json:
        sys.stdout.write(json.dumps({"value": shown}, indent=2) + "\n")
    if interrupted:
        return INTERRUPTED
    return 0 if succeeded else 1


def _run_flags_valid(args: argparse.Namespace) -> bool:
    """Whether `--workers` and `--timeout` can run a crawl; if not, says so naming them."""
    if args.workers < 1 or args.timeout <= 0:
        sys.stderr.write("error: --workers must be at least 1 and --timeout above 0 seconds\n")
        return False
    return True


def _say(line: str, out: TextIO) -> None:
    out.write(line + "\n")
    out.flush()


def _ops_context() -> CrawlContext:
    from credly_connector.runtime import build_context  # noqa: PLC0415
    from credly_connector.settings import load_settings  # noqa: PLC0415

    return build_context(load_settings(os.environ))


def _answered(answer: Answer) -> int:
    """Print an operation's JSON answer (errors to standard error); 0 when it succeeded."""
    (sys.stdout if answer.status < 400 else sys.stderr).write(answer.json() + "\n")
    return 0 if answer.status < 400 else 1


def _refused(answer: Answer) -> int:
    """A refused operation as one line on standard error (`--json` prints the answer)."""
    from credly_connector.ops.cli_text import refusal  # noqa: PLC0415

    sys.stderr.write(refusal(answer))
    return 1


def _shown(answer: Answer, as_json: bool, render: Callable[[dict[str, Any]], str]) -> int:
    """An answer as JSON with `--json`, else as text (a refusal as one line on stderr)."""
    if as_json:
        return _answered(answer)
    if answer.status >= 400 or not isinstance(answer.body, dict):
        return _refused(answer)
    sys.stdout.write(render(answer.body))
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from credly_connector.ops.people import diagnose_person, render_diagnosis  # noqa: PLC0415

    return _shown(diagnose_person(_ops_context(), args.email), args.json, render_diagnosis)


def _override(args: argparse.Namespace) -> int:
    import getpass  # noqa: PLC0415

    from credly_connector.ops import cli_text, overrides  # noqa: PLC0415

    ctx = _ops_context()
    if args.action == "list":
        return _shown(overrides.list_overrides(ctx), args.json, cli_text.render_overrides)
    if args.action == "delete":
        answer = overrides.delete_override(ctx, args.email)
        return _shown(answer, args.json, cli_text.render_override_deleted)
    try:
        actor = f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in some containers
        actor = "cli"
    body = json.dumps({"userPrincipalName": args.upn}).encode()
    answer = overrides.set_override(ctx, args.email, body, actor=actor)
    return _shown(answer, args.json, cli_text.render_override_set)


def _report(args: argparse.Namespace) -> int:
    from credly_connector.ops.reports import BOM, badge_report  # noqa: PLC0415

    report = badge_report(_ops_context(), args.expiring_within, name="--expiring-within")
    if isinstance(report, Answer):
        _refused(report)
        return 2
    if args.out is None:
        sys.stdout.writelines(report.lines)
        return 0
    rows = -1  # the header is not a badge
    with open(args.out, "w", encoding="utf-8", newline="") as out:
        out.write(BOM)
        for line in report.lines:
            out.write(line)
            rows += 1
    sys.stderr.write(f"{rows} badge(s) written to {args.out}\n")
    return 0


def _status(args: argparse.Namespace) -> int:
    from credly_connector.ops.crawl_text import render_status  # noqa: PLC0415
    from credly_connector.ops.crawls import crawl_status  # noqa: PLC0415

    answer = crawl_status(_ops_context(), args.crawl_id)
    if args.json:
        code = _answered(answer)
    elif answer.status != 200 or not isinstance(answer.body, dict):
        code = _refused(answer)
    else:
        sys.stdout.write(render_status(answer.body))
        code = 0
    failed = isinstance(answer.body, dict) and answer.body.get("status") == "failed"
    return 1 if failed else code


def _crawls(args: argparse.Namespace) -> int:
    from credly_connector.ops.crawl_text import render_crawls  # noqa: PLC0415
    from credly_connector.ops.crawls import MAX_LIST, list_crawls  # noqa: PLC0415

    if not 1 <= args.limit <= MAX_LIST:
        # Checked here so the error names the flag, not the route's `limit` parameter.
        sys.stderr.write(f"error: --limit must be between 1 and {MAX_LIST}; got {args.limit}\n")
        return 2
    ctx = _ops_context()
    ctx.tables.ensure()  # a first run lists no crawl instead of failing on a missing table
    return _shown(list_crawls(ctx, str(args.limit)), args.json, render_crawls)


def _cancel(args: argparse.Namespace) -> int:
    from credly_connector.ops.crawls import cancel_crawl  # noqa: PLC0415

    answer = cancel_crawl(_ops_context(), args.crawl_id)
    if args.json:
        return _answered(answer)
    if answer.status != 200 or not isinstance(answer.body, dict):
        return _refused(answer)
    body = answer.body
    sys.stdout.write(
        f"crawl {body['id']} cancelled (it was in phase {body['phase']});"
        f" organisation {body['organizationId']} is free\n  {body['next']}\n"
    )
    return 0


def _retry(args: argparse.Namespace) -> int:
    from credly_connector.local.crawl import print_summary  # noqa: PLC0415
    from credly_connector.local.redrive import retry_locally  # noqa: PLC0415
    from credly_connector.ops.cli_text import render_retry  # noqa: PLC0415

    if not _run_flags_valid(args):
        return 2
    result = retry_locally(
        _ops_context(),
        args.crawl_id,
        wait=not args.no_wait,
        workers=args.workers,
        timeout_s=args.timeout,
    )
    _shown(result.answer, args.json, render_retry)
    if result.crawl is not None:
        if not args.json:  # the JSON answer stays the only thing on standard output
            print_summary(result.crawl, sys.stdout)
        if result.crawl.interrupted:
            return INTERRUPTED
    return 0 if result.succeeded else 1


def _preview(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from credly_connector.ops.preview import write_preview_page  # noqa: PLC0415

    ctx = _ops_context()
    ctx.tables.ensure()  # a first run finds no dry run instead of a missing table
    answer = write_preview_page(ctx, Path(args.out), args.crawl)
    if args.json:
        return _answered(answer)
    if answer.status == 200 and isinstance(answer.body, dict):
        sys.stderr.write(f"{answer.body['people']} people; open the page in a browser:\n")
        sys.stdout.write(f"{answer.body['path']}\n")
        return 0
    return _refused(answer)


def _setup(args: argparse.Namespace) -> int:
    from credly_connector.ops.setup import SchemaProgress, setup_report  # noqa: PLC0415

    def progress(poll: SchemaProgress) -> None:
        sys.stderr.write(f"schema operation {poll.status} ({poll.elapsed_s:.0f} s)\n")

    report = setup_report(_ops_context(), wait_s=args.wait, on_progress=progress)
    sys.stdout.write((report.answer().json() if args.json else report.render()) + "\n")
    return 0 if report.ok else 1


def _health(args: argparse.Namespace) -> int:
    from credly_connector.ops.health import check_health  # noqa: PLC0415

    report = check_health(os.environ)
    sys.stdout.write((report.answer().json() if args.json else report.render()) + "\n")
    return 0 if report.ok else 1


def _teardown(args: argparse.Namespace) -> int:
    from credly_connector.ops.teardown import teardown_report  # noqa: PLC0415

    ctx = _ops_context()
    try:
        report = teardown_report(ctx, confirm=args.confirm, storage=args.storage, wait_s=args.wait)
    except ValueError as error:
        sys.stderr.write(
            f"error: --confirm {error}; to remove it: --confirm {ctx.options.connection_id}\n"
        )
        return 2
    sys.stdout.write((report.answer().json() if args.json else report.render()) + "\n")
    return 0 if report.ok else 1


def _rebuild(args: argparse.Namespace) -> int:
    from credly_connector.local.progress import Progress  # noqa: PLC0415
    from credly_connector.ops.rebuild import RebuildRefusedError, rebuild_report  # noqa: PLC0415

    if not _run_flags_valid(args):
        return 2
    try:
        report = rebuild_report(
            _ops_context(),
            args.to,
            wait_s=args.timeout,
            workers=args.workers,
            progress=None if args.quiet else Progress(),
        )
    except RebuildRefusedError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    sys.stdout.write((report.answer().json() if args.json else report.render()) + "\n")
    return 0 if report.ok else 1


def _exit(code: int) -> None:
    """Leave with `code`; after Ctrl-C, without waiting for handlers it abandoned.

    An abandoned handler thread would hold the interpreter's exit until it returns (and a
    second Ctrl-C there prints a traceback from the thread pool's exit hook); its message
    reappears on the queue once its lease runs out, so nothing is lost by not waiting.
    """
    if code == INTERRUPTED:
        import threading  # noqa: PLC0415

        current = threading.current_thread()
        if any(t is not current and t.is_alive() and not t.daemon for t in threading.enumerate()):
            sys.stdout.flush()
            sys.stderr.flush()
            logging.shutdown()
            os._exit(code)
    raise SystemExit(code)


if __name__ == "__main__":
    _exit(main())
