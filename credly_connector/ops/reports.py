"""The badge report: one CSV row per stored badge, produced lazily from a table scan."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from credly_connector.ops.answers import Answer, problem
from credly_connector.ops.people import current_index, decision_status
from credly_connector.pipeline.context import CrawlContext
from credly_connector.rules.eligibility import decide_badges
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.stores.tables import to_iso

COLUMNS = (
    "email",
    "matched_upn",
    "organization_id",
    "badge_id",
    "template_id",
    "template_name",
    "issuer",
    "issued_at",
    "expires_at",
    "state",
    "status",
)
MAX_DAYS = 36_500
# The HTTP route's name of the filter; the CLI passes its flag instead.
PARAMETER = '"expiringWithin"'
FILENAME = "credly-badges.csv"
BOM = "\ufeff"
# Spreadsheets run a cell starting with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a quote before it."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def parse_days(raw: str | None, *, name: str = PARAMETER) -> int | Answer | None:
    """The `expiringWithin` filter: None when absent, else whole days, or the 400 answer.

    Args:
        raw: The filter as given.
        name: What the caller called it, for the error (the CLI says `--expiring-within`).
    """
    if raw is None or raw == "":
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        return problem(400, f"{name} must be a whole number of days, 0 or more; got {raw[:40]!r}.")
    days = int(text)
    if days > MAX_DAYS:
        return problem(400, f"{name} must be at most {MAX_DAYS} days.")
    return days


def badge_rows(
    ctx: CrawlContext, index: DirectoryIndex, *, now: datetime, expiring_within: int | None
) -> Iterator[tuple[str, ...]]:
    """One row per stored badge (in `COLUMNS` order), decided now; nothing is held in memory.

    Args:
        ctx: The context whose badge store is scanned.
        index: The identity index the rows are decided with.
        now: The instant decisions and the expiry filter are judged at.
        expiring_within: Keep only badges expiring after `now` and within this many days.
    """
    until = None if expiring_within is None else now + timedelta(days=expiring_within)
    for badge in ctx.badges.scan():
        if until is not None and (badge.expires_at is None or not now < badge.expires_at <= until):
            continue
        resolution = index.resolve(badge.recipient_email)
        (decision,) = decide_badges(
            resolution, [badge], now=now, include_expired=ctx.options.include_expired
        )
        yield (
            badge.recipient_email,
            resolution.user.user_principal_name if resolution.user else "",
            badge.organization_id,
            badge.id,
            badge.template_id,
            badge.template_name,
            badge.issuing_authority,
            to_iso(badge.issued_at),
            to_iso(badge.expires_at),
            badge.state,
            decision_status(decision),
        )


def csv_lines(rows: Iterator[tuple[str, ...]]) -> Iterator[str]:
    """RFC 4180 CSV text (CRLF line ends, quoted where needed), header first, row by row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in _with_header(rows):
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _with_header(rows: Iterator[tuple[str, ...]]) -> Iterator[tuple[str, ...]]:
    yield COLUMNS
    yield from rows


@dataclass(frozen=True)
class CsvReport:
    """A CSV answer: its text is produced only while `lines` is read (once)."""

    lines: Iterator[str]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200

    def body(self) -> bytes:
        """The whole document as UTF-8 with a byte order mark (so spreadsheets detect UTF-8).

        For a response that cannot stream; the text is built only once the rows are read.
        """
        return (BOM + "".join(self.lines)).encode("utf-8")


def badge_report(
    ctx: CrawlContext,
    expiring_within: str | None,
    *,
    now: datetime | None = None,
    name: str = PARAMETER,
) -> CsvReport | Answer:
    """`GET ops/reports/badges.csv?expiringWithin=DAYS`: the report, or 400 for a bad filter.

    Args:
        ctx: The context whose badge store is scanned (lazily, as the lines are read).
        expiring_within: The raw parameter (absent: every badge).
        now: The instant of the decisions (the context's clock when omitted).
        name: What the caller calls the filter, for the error.
    """
    days = parse_days(expiring_within, name=name)
    if isinstance(days, Answer):
        return days
    index = current_index(ctx)
    rows = badge_rows(ctx, index, now=now or ctx.clock(), expiring_within=days)
    return CsvReport(
        csv_lines(rows),
        {"Content-Disposition": f'attachment; filename="{FILENAME}"'},
    )
