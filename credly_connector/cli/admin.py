"""Commands that look after the connector: setup, health, settings, teardown, rebuild, people."""

from __future__ import annotations

import argparse
import json
import os
import sys

from credly_connector.cli.output import ops_context, refused, run_flags_valid, shown
from credly_connector.ops.answers import Answer


def diagnose(args: argparse.Namespace) -> int:
    """`diagnose EMAIL`: why a person's badges are shown or not."""
    from credly_connector.ops.cli_text import render_diagnosis  # noqa: PLC0415
    from credly_connector.ops.people import diagnose_person  # noqa: PLC0415

    return shown(diagnose_person(ops_context(), args.email), args.json, render_diagnosis)


def override(args: argparse.Namespace) -> int:
    """`override set|delete|list`: identity overrides, recomposing the people affected."""
    import getpass  # noqa: PLC0415

    from credly_connector.ops import cli_text, overrides  # noqa: PLC0415

    ctx = ops_context()
    if args.action == "list":
        return shown(overrides.list_overrides(ctx), args.json, cli_text.render_overrides)
    if args.action == "delete":
        answer = overrides.delete_override(ctx, args.email)
        return shown(answer, args.json, cli_text.render_override_deleted)
    try:
        actor = f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in some containers
        actor = "cli"
    body = json.dumps({"userPrincipalName": args.upn}).encode()
    answer = overrides.set_override(ctx, args.email, body, actor=actor)
    return shown(answer, args.json, cli_text.render_override_set)


def report(args: argparse.Namespace) -> int:
    """`report`: the badge CSV to standard output or `--out FILE`; 2 for a bad filter."""
    from credly_connector.ops.reports import BOM, badge_report  # noqa: PLC0415

    report = badge_report(ops_context(), args.expiring_within, name="--expiring-within")
    if isinstance(report, Answer):
        refused(report)
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


def setup(args: argparse.Namespace) -> int:
    """`setup`: storage, connection, schema, profile source, precedence; 1 unless all done."""
    from credly_connector.ops.setup import setup_report  # noqa: PLC0415
    from credly_connector.ops.setup_report import SchemaProgress  # noqa: PLC0415

    def progress(poll: SchemaProgress) -> None:
        sys.stderr.write(f"schema operation {poll.status} ({poll.elapsed_s:.0f} s)\n")

    report = setup_report(ops_context(), wait_s=args.wait, on_progress=progress)
    sys.stdout.write((report.answer().json() if args.json else report.render()) + "\n")
    return 0 if report.ok else 1


def health(args: argparse.Namespace) -> int:
    """`health`: every check with its cause and fix; 1 unless all pass."""
    from credly_connector.ops.health import check_health  # noqa: PLC0415

    report = check_health(os.environ)
    sys.stdout.write((report.answer().json() if args.json else report.render()) + "\n")
    return 0 if report.ok else 1


def settings(args: argparse.Namespace) -> int:
    """`settings`: the value in force of every setting, defaults included, secrets hidden."""
    from credly_connector.settings import load_settings  # noqa: PLC0415

    view = load_settings(os.environ).redacted()
    if args.json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
    else:
        width = max(map(len, view))
        sys.stdout.writelines(f"{name:<{width}}  {value}\n" for name, value in view.items())
    return 0


def teardown(args: argparse.Namespace) -> int:
    """`teardown`: what would be removed, or with `--confirm` remove it."""
    from credly_connector.ops.teardown import teardown_report  # noqa: PLC0415

    ctx = ops_context()
    try:
        report = teardown_report(ctx, confirm=args.confirm, storage=args.storage, wait_s=args.wait)
    except ValueError as error:
        sys.stderr.write(
            f"error: --confirm {error}; to remove it: --confirm {ctx.options.connection_id}\n"
        )
        return 2
    sys.stdout.write((report.answer().json() if args.json else report.render()) + "\n")
    return 0 if report.ok else 1


def rebuild(args: argparse.Namespace) -> int:
    """`rebuild --to NEW_ID`: move onto a new connection (resumable); 2 when refused."""
    from credly_connector.local.progress import Progress  # noqa: PLC0415
    from credly_connector.ops.rebuild import RebuildRefusedError, rebuild_report  # noqa: PLC0415

    if not run_flags_valid(args):
        return 2
    try:
        report = rebuild_report(
            ops_context(),
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
