"""Crawl answers as plain text for the command line: the `crawls` table and `status`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

CLI = "python -m credly_connector"
COLUMNS = ("id", "kind", "trigger", "status", "phase", "started", "duration", "pages", "people")


def _when(value: str | None) -> datetime | None:
    return None if not value else datetime.fromisoformat(value)


def _shown_time(value: str | None) -> str:
    when = _when(value)
    return "-" if when is None else when.strftime("%Y-%m-%d %H:%M:%S")


def duration(body: dict[str, Any]) -> str:
    """How long an ended crawl ran (`1h02m`, `3m07s`, `12.4s`); `-` while it runs."""
    began = _when(body.get("startedAt")) or _when(body.get("createdAt"))
    ended = _when(body.get("finishedAt"))
    if began is None or ended is None:
        return "-"
    seconds = max((ended - began).total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _count(value: object) -> str:
    return "-" if value is None else str(value)


def render_crawls(body: dict[str, Any]) -> str:
    """A `GET ops/crawls` answer as a table, newest first (times in UTC)."""
    rows = [COLUMNS]
    for crawl in body.get("value", []):
        kind = crawl["kind"] + (" (dry)" if crawl.get("dryRun") else "")
        rows.append(
            (
                crawl["id"],
                kind,
                crawl.get("trigger") or "-",
                crawl["status"],
                crawl["phase"],
                _shown_time(crawl.get("createdAt")),
                duration(crawl),
                _count(crawl.get("totalPages")),
                _count((crawl.get("counts") or {}).get("people_written")),
            )
        )
    if len(rows) == 1:
        return "no crawl yet\n"
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def render_status(body: dict[str, Any]) -> str:
    """A `GET ops/crawls/{id}` answer as lines: fields, counts, failed steps, what next."""
    counts = body.get("counts") or {}
    kind = body["kind"] + (", dry run" if body.get("dryRun") else "")
    lines = [
        f"crawl {body['id']} ({kind})",
        f"  organisation  {body['organizationId']}",
        f"  status        {body['status']} (phase {body['phase']})",
        f"  trigger       {body.get('trigger') or '-'}",
        f"  created       {_shown_time(body.get('createdAt'))} UTC",
        f"  started       {_shown_time(body.get('startedAt'))}",
        f"  finished      {_shown_time(body.get('finishedAt'))} ({duration(body)})",
    ]
    if body.get("since"):
        lines.append(f"  changes since {_shown_time(body['since'])}")
    lines.append(
        f"  pages         {_count(body.get('totalPages'))} ({counts.get('pages_failed', 0)} failed)"
    )
    lines.append(
        f"  batches       {_count(body.get('totalBatches'))}"
        f" ({counts.get('batches_failed', 0)} failed)"
    )
    if counts:
        lines.append(
            f"  badges        seen {counts.get('badges_seen', 0)},"
            f" changed {counts.get('badges_changed', 0)} (new {counts.get('badges_new', 0)},"
            f" updated {counts.get('badges_updated', 0)},"
            f" removed {counts.get('badges_removed', 0)})"
        )
        lines.append(
            f"  people        written {counts.get('people_written', 0)},"
            f" deleted {counts.get('people_deleted', 0)},"
            f" unchanged {counts.get('people_unchanged', 0)}"
        )
        skipped = counts.get("skipped") or {}
        if skipped:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items()))
            lines.append(f"  skipped       {reasons}")
    failure = body.get("failure")
    if failure:
        lines.append(f"  failed in     {failure['stage']}: {failure['message']}")
    steps = body.get("failedSteps") or []
    if steps:
        lines.append(f"  failed steps ({body.get('failedStepCount', len(steps))}):")
        lines += [
            f"    {s['step']} ({s['stage']}, {s['attempts']} attempts,"
            f" {_shown_time(s.get('at'))}): {s.get('error') or 'no error recorded'}"
            for s in steps
        ]
    lines.append(f"  next: {_next(body)}")
    return "\n".join(lines) + "\n"


def _next(body: dict[str, Any]) -> str:
    crawl_id, status = body["id"], body["status"]
    if status in ("queued", "running"):
        return (
            f'it runs while the queues are processed; "{CLI} crawl" continues it here,'
            f' "{CLI} cancel {crawl_id}" cancels it'
        )
    if status == "failed" and body.get("failedSteps"):
        return f'"{CLI} retry {crawl_id}" runs the failed steps again'
    if status == "failed":
        return f'start a new crawl ("{CLI} crawl")'
    if status == "cancelled":
        return f'the next crawl ("{CLI} crawl") writes the changes this one had read'
    return "nothing to do"
