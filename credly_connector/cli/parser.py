"""The command line's grammar: every command, its arguments and their help."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def build_parser(description: str) -> argparse.ArgumentParser:
    """The parser of `python -m credly_connector`, one subcommand per command."""
    parser = argparse.ArgumentParser(prog="python -m credly_connector", description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("version", help="print the product name and version")
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
    add_override_command(commands)
    report = commands.add_parser("report", help="CSV of every known badge and its status")
    report.add_argument("--expiring-within", metavar="DAYS", help="only badges expiring soon")
    report.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    add_crawl_commands(commands)
    preview = commands.add_parser("preview", help="render a dry run's preview as an HTML page")
    preview.add_argument("--out", metavar="DIR", required=True, help="writes DIR/index.html")
    preview.add_argument("--crawl", metavar="ID", help="the dry-run crawl (default: the latest)")
    setup = commands.add_parser(
        "setup", help="create the Graph connection, schema and profile source (idempotent)"
    )
    setup.add_argument("--wait", type=float, default=1200.0, help="schema wait, s (default 1200)")
    commands.add_parser("health", help="check settings, Credly, Graph and crawls")
    commands.add_parser(
        "settings", help="every setting's value in force, defaults included, secrets hidden"
    )
    add_lifecycle_commands(commands)
    # --json on every command but the CSV report; crawl and the override actions have their own.
    for name, command in commands.choices.items():
        if name not in {"report", "crawl", "override"}:
            command.add_argument("--json", action="store_true", help="print the JSON answer")
    return parser


def add_override_command(commands: Commands) -> None:
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


def add_crawl_commands(commands: Commands) -> None:
    """The commands that look after crawls once started: status, crawls, cancel, retry."""
    status = commands.add_parser("status", help="a crawl's status, counts and failed steps")
    status.add_argument("crawl_id", metavar="CRAWL_ID")
    crawls = commands.add_parser("crawls", help="the latest crawls as a table")
    crawls.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    cancel = commands.add_parser(
        "cancel", help="end a queued or running crawl and free its organisation at once"
    )
    cancel.add_argument("crawl_id", metavar="CRAWL_ID")
    retry = commands.add_parser(
        "retry", help="re-drive the failed pages or profile batches of a failed crawl"
    )
    retry.add_argument("crawl_id", metavar="CRAWL_ID")
    retry.add_argument("--no-wait", action="store_true", help="only send the messages again")
    retry.add_argument("--workers", type=int, default=4, help="handler threads (default 4)")
    retry.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")


def add_lifecycle_commands(
    commands: Commands,
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
    rebuild = commands.add_parser(
        "rebuild", help="move onto a new connection without a gap on profiles (resumable)"
    )
    rebuild.add_argument("--to", metavar="NEW_ID", required=True, help="the new connection id")
    rebuild.add_argument("--workers", type=int, default=4, help="handler threads (default 4)")
    rebuild.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
