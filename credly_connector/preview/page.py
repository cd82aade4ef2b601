"""The dry-run preview as one static HTML page: a profile-card-like panel per person.

Badge names, issuers and URLs come from Credly and are hostile input: every text is escaped,
only http(s) URLs become links or images, and the page carries a Content-Security-Policy that
allows no script at all. The page needs no other file (styles are inline).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import unquote, urlsplit

from credly_connector.rules.reasons import REASON_FIXES
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.previews import ACTIONS, PersonPreview
from credly_connector.stores.tables import to_iso

ACTION_LABELS = {
    "create": "New profile item",
    "update": "Changes",
    "delete": "Item removed",
    "unchanged": "No change",
}
SECTIONS = (("certifications", "Certifications"), ("awards", "Awards"))
DESCRIPTION_CHARS = 300
CSP = "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'"
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f3f2f1;
color:#201f1e}
header.page,section.summary{background:#fff;margin:0 0 16px;padding:16px 24px;
box-shadow:0 1px 2px rgba(0,0,0,.1)}
h1{margin:0 0 8px;font-size:22px}
.totals span,.marker{display:inline-block;border-radius:12px;padding:2px 10px;margin-right:6px;
font-size:13px;background:#edebe9}
.create .marker,.totals .create{background:#dff6dd}
.update .marker,.totals .update{background:#fff4ce}
.delete .marker,.totals .delete{background:#fde7e9}
table{border-collapse:collapse}
td,th{text-align:left;padding:4px 12px 4px 0;vertical-align:top;font-size:14px}
main{display:flex;flex-wrap:wrap;gap:16px;padding:0 24px 24px}
article.card{background:#fff;width:420px;border-radius:6px;padding:16px;
box-shadow:0 1px 3px rgba(0,0,0,.15);border-top:4px solid #c8c6c4}
article.create{border-top-color:#107c10}
article.update{border-top-color:#c19c00}
article.delete{border-top-color:#a4262c}
article h2{font-size:16px;margin:0 0 6px;word-break:break-all}
article h3{font-size:13px;text-transform:uppercase;color:#605e5c;margin:14px 0 6px}
.changes{font-size:13px;color:#605e5c;margin:6px 0}
ul.entries{list-style:none;margin:0;padding:0}
li.entry{display:flex;gap:10px;margin:0 0 10px}
li.entry img{width:48px;height:48px;object-fit:contain;flex:none}
li.entry .noimage{width:48px;height:48px;background:#edebe9;flex:none}
.name{font-weight:600;word-break:break-word}
.meta{font-size:12px;color:#605e5c;word-break:break-word}
.new{font-size:11px;background:#dff6dd;border-radius:8px;padding:0 6px;margin-left:4px}
"""


@dataclass(frozen=True)
class Entry:
    """One certification or award as the profile card would show it."""

    badge_id: str
    name: str
    issuer: str
    issued: str
    expires: str
    web_url: str
    image_url: str
    description: str


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _safe_url(value: str) -> str:
    """`value` when it is an absolute http(s) URL, else '' (no javascript:, data: or relative)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return ""
    return value.strip() if parts.scheme in {"http", "https"} and parts.netloc else ""


def entries_of(item: dict[str, Any] | None, prop: str) -> list[Entry]:
    """The entries of one collection property of an item (malformed ones are left out)."""
    properties = (item or {}).get("properties") or {}
    found: list[Entry] = []
    for raw in properties.get(prop) or []:
        try:
            entry = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if not isinstance(entry, dict):
            continue
        web_url = _text(entry.get("webUrl"))
        badge_id = _text(entry.get("certificationId")) or unquote(web_url.rsplit("/", 1)[-1])
        found.append(
            Entry(
                badge_id=badge_id,
                name=_text(entry.get("displayName")),
                issuer=_text(entry.get("issuingAuthority")),
                issued=_text(entry.get("issuedDate")),
                expires=_text(entry.get("endDate")),
                web_url=_safe_url(web_url),
                image_url=_safe_url(_text(entry.get("thumbnailUrl"))),
                description=_text(entry.get("description")),
            )
        )
    return found


def _user_principal_name(preview: PersonPreview) -> str:
    properties = (preview.item or {}).get("properties") or {}
    try:
        account = json.loads(properties.get("accountInformation") or "{}")
    except (TypeError, ValueError):
        account = {}
    upn = account.get("userPrincipalName") if isinstance(account, dict) else None
    return preview.user_principal_name or _text(upn) or preview.user_id


def _entry_html(entry: Entry, added: set[str]) -> str:
    image = (
        f'<img src="{escape(entry.image_url)}" alt="" loading="lazy" referrerpolicy="no-referrer">'
        if entry.image_url
        else '<span class="noimage"></span>'
    )
    name = escape(entry.name or entry.badge_id)
    if entry.web_url:
        name = f'<a href="{escape(entry.web_url)}" rel="noopener noreferrer">{name}</a>'
    new = '<span class="new">new</span>' if entry.badge_id in added else ""
    dates = f"Issued {escape(entry.issued)}" if entry.issued else ""
    if entry.expires:
        dates += f" · Expires {escape(entry.expires)}"
    description = entry.description
    if len(description) > DESCRIPTION_CHARS:
        description = description[:DESCRIPTION_CHARS].rstrip() + "…"
    lines = [f'<div class="name" dir="auto">{name}{new}</div>']
    if entry.issuer:
        lines.append(f'<div class="meta">{escape(entry.issuer)}</div>')
    if dates:
        lines.append(f'<div class="meta">{dates}</div>')
    if description:
        lines.append(f'<div class="meta" dir="auto">{escape(description)}</div>')
    return f'<li class="entry">{image}<div>{"".join(lines)}</div></li>'


def _changes_html(preview: PersonPreview) -> str:
    parts: list[str] = []
    if preview.badges_added:
        parts.append(f"+{len(preview.badges_added)} badge(s)")
    if preview.badges_removed:
        removed = ", ".join(escape(b) for b in preview.badges_removed)
        parts.append(f"-{len(preview.badges_removed)} badge(s): {removed}")
    if preview.action == "update" and not parts:
        parts.append("same badges, changed details")
    if preview.truncated_entries or preview.truncated_ids:
        parts.append(
            f"{preview.truncated_entries} entries and {preview.truncated_ids} badge ids "
            "not shown (too large to keep in the preview)"
        )
    return f'<p class="changes">{"; ".join(parts)}</p>' if parts else ""


def card_html(preview: PersonPreview) -> str:
    """One person's panel."""
    action = preview.action if preview.action in ACTIONS else "unchanged"
    # On a new item every badge is new; the chip only helps on an update.
    added = set(preview.badges_added) if action == "update" else set()
    sections: list[str] = []
    for prop, title in SECTIONS:
        entries = entries_of(preview.item, prop)
        if entries:
            items = "".join(_entry_html(e, added) for e in entries)
            sections.append(f'<h3>{title}</h3><ul class="entries">{items}</ul>')
    if action == "delete":
        sections.append("<p>No badge is left to show: the profile item would be deleted.</p>")
    return (
        f'<article class="card {action}" id="user-{escape(preview.user_id)}">'
        f"<h2>{escape(_user_principal_name(preview))}</h2>"
        f'<span class="marker">{ACTION_LABELS[action]}</span>'
        f"{_changes_html(preview)}{''.join(sections)}</article>"
    )


def _skipped_html(record: CrawlRecord) -> str:
    skipped = record.counts.get("skipped") if record.final else None
    if not isinstance(skipped, dict):
        return "<p>The crawl has not finished: no skip summary yet.</p>"
    if not skipped:
        return "<p>No badge was skipped.</p>"
    rows = "".join(
        f"<tr><td>{escape(str(reason))}</td><td>{escape(str(count))}</td>"
        f"<td>{escape(REASON_FIXES.get(str(reason), ''))}</td></tr>"
        for reason, count in sorted(skipped.items())
    )
    return f"<table><tr><th>Reason</th><th>Badges</th><th>Fix</th></tr>{rows}</table>"


def _order(previews: Iterable[PersonPreview]) -> list[PersonPreview]:
    """Changed people first (creations, updates, deletions), then by name."""
    rank = {action: n for n, action in enumerate(ACTIONS)}
    return sorted(
        previews,
        key=lambda p: (rank.get(p.action, len(rank)), _user_principal_name(p).casefold()),
    )


def render_page(
    record: CrawlRecord, previews: Sequence[PersonPreview], *, generated_at: datetime
) -> str:
    """The whole page for a dry-run crawl and its previews."""
    totals = Counter(p.action for p in previews)
    chips = "".join(
        f'<span class="{action}">{ACTION_LABELS[action]}: {totals.get(action, 0)}</span>'
        for action in ACTIONS
    )
    facts = (
        f"Crawl {escape(record.crawl_id)} ({escape(record.kind)}) of organisation "
        f"{escape(record.organization_id)}: {escape(record.status)}, requested "
        f"{escape(to_iso(record.created_at))}. Page generated {escape(to_iso(generated_at))}."
    )
    warning = "" if record.dry_run else "<p><strong>This crawl was not a dry run.</strong></p>"
    cards = "".join(card_html(p) for p in _order(previews))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Credly connector dry run {escape(record.crawl_id)}</title>"
        f"<style>{STYLE}</style></head><body>"
        '<header class="page"><h1>Dry run: what the connector would write to Microsoft 365</h1>'
        f"<p>{facts}</p>{warning}"
        "<p>Nothing was written to Microsoft 365. Each panel shows a person's profile item as "
        "the crawl would write it, and what changes against the item written last.</p>"
        f'<p class="totals">{chips}</p></header>'
        f'<section class="summary"><h2>Badges skipped</h2>{_skipped_html(record)}</section>'
        f"<main>{cards or '<p>No person would get a profile item.</p>'}</main>"
        "</body></html>\n"
    )
