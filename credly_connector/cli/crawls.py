"""The commands about crawls: run one, its status, the list, cancel, retry, the preview page."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from credly_connector.cli.output import (
    INTERRUPTED,
    answered,
    ops_context,
    refused,
    run_flags_valid,
    say,
    shown,
)


def crawl(args: argparse.Namespace) -> int:
    """`crawl`: run a crawl of each organisation to completion here; 1 when one failed."""
    # Imported here so `version` works without the runtime's dependencies configured.
    from credly_connector.local.crawl import print_summary, resuming, run_crawl  # noqa: PLC0415
    from credly_connector.local.progress import Progress  # noqa: PLC0415

    if args.lease < 1:
        sys.stderr.write("error: --lease must be at least 1 second\n")
        return 2
    if not run_flags_valid(args):
        return 2
    ctx = ops_context()
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
            on_resume=lambda record: say(resuming(record), said),
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


def status(args: argparse.Namespace) -> int:
    """`status CRAWL_ID`: a crawl's status and counts; 1 for a failed crawl."""
    from credly_connector.ops.crawl_text import render_status  # noqa: PLC0415
    from credly_connector.ops.crawls import crawl_status  # noqa: PLC0415

    answer = crawl_status(ops_context(), args.crawl_id)
    if args.json:
        code = answered(answer)
    elif answer.status != 200 or not isinstance(answer.body, dict):
        code = refused(answer)
    else:
        sys.stdout.write(render_status(answer.body))
        code = 0
    failed = isinstance(answer.body, dict) and answer.body.get("status") == "failed"
    return 1 if failed else code


def crawls(args: argparse.Namespace) -> int:
    """`crawls`: the latest crawls as a table."""
    from credly_connector.ops.crawl_text import render_crawls  # noqa: PLC0415
    from credly_connector.ops.crawls import MAX_LIST, list_crawls  # noqa: PLC0415

    if not 1 <= args.limit <= MAX_LIST:
        # Checked here so the error names the flag, not the route's `limit` parameter.
        sys.stderr.write(f"error: --limit must be between 1 and {MAX_LIST}; got {args.limit}\n")
        return 2
    ctx = ops_context()
    ctx.tables.ensure()  # a first run lists no crawl instead of failing on a missing table
    return shown(list_crawls(ctx, str(args.limit)), args.json, render_crawls)


def cancel(args: argparse.Namespace) -> int:
    """`cancel CRAWL_ID`: end a queued or running crawl and free its organisation."""
    from credly_connector.ops.crawls import cancel_crawl  # noqa: PLC0415

    answer = cancel_crawl(ops_context(), args.crawl_id)
    if args.json:
        return answered(answer)
    if answer.status != 200 or not isinstance(answer.body, dict):
        return refused(answer)
    body = answer.body
    sys.stdout.write(
        f"crawl {body['id']} cancelled (it was in phase {body['phase']});"
        f" organisation {body['organizationId']} is free\n  {body['next']}\n"
    )
    return 0


def retry(args: argparse.Namespace) -> int:
    """`retry CRAWL_ID`: re-drive a failed crawl's failed parts, and wait for it here."""
    from credly_connector.local.crawl import print_summary  # noqa: PLC0415
    from credly_connector.local.redrive import retry_locally  # noqa: PLC0415
    from credly_connector.ops.cli_text import render_retry  # noqa: PLC0415

    if not run_flags_valid(args):
        return 2
    result = retry_locally(
        ops_context(),
        args.crawl_id,
        wait=not args.no_wait,
        workers=args.workers,
        timeout_s=args.timeout,
    )
    shown(result.answer, args.json, render_retry)
    if result.crawl is not None:
        if not args.json:  # the JSON answer stays the only thing on standard output
            print_summary(result.crawl, sys.stdout)
        if result.crawl.interrupted:
            return INTERRUPTED
    return 0 if result.succeeded else 1


def preview(args: argparse.Namespace) -> int:
    """`preview --out DIR`: a dry run's preview as an HTML page."""
    from pathlib import Path  # noqa: PLC0415

    from credly_connector.ops.preview import write_preview_page  # noqa: PLC0415

    ctx = ops_context()
    ctx.tables.ensure()  # a first run finds no dry run instead of a missing table
    answer = write_preview_page(ctx, Path(args.out), args.crawl)
    if args.json:
        return answered(answer)
    if answer.status == 200 and isinstance(answer.body, dict):
        sys.stderr.write(f"{answer.body['people']} people; open the page in a browser:\n")
        sys.stdout.write(f"{answer.body['path']}\n")
        return 0
    return refused(answer)
