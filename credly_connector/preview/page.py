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
from datetime import UTC, date, datetime
from html import escape
from typing import Any
from urllib.parse import unquote, urlsplit

from credly_connector.preview.index import Person, card_anchor, index_html
from credly_connector.preview.style import STYLE
from credly_connector.rules.reasons import REASON_FIXES
from credly_connector.stores.crawls import CrawlRecord
from credly_connector.stores.previews import ACTIONS, PersonPreview

ACTION_LABELS = {
    "create": "New profile item",
    "update": "Changes",
    "delete": "Item removed",
    "unchanged": "No change",
}
SECTIONS = (("certifications", "Certifications"), ("awards", "Awards"))
DESCRIPTION_CHARS = 300
CSP = "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


def human_date(value: str) -> str:
    """`2026-03-12` (or an ISO timestamp) as `12 Mar 2026`; other text as it is."""
    try:
        day = date.fromisoformat(value.strip()[:10])
    except ValueError:
        return value
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def human_moment(moment: datetime) -> str:
    """A moment as `1 Nov 2026, 09:05 UTC`."""
    utc = moment.astimezone(UTC)
    return f"{human_date(utc.date().isoformat())}, {utc:%H:%M} UTC"


def _date_html(value: str) -> str:
    shown = human_date(value)
    if shown == value:
        return escape(value)
    return f'<time datetime="{escape(value.strip()[:10])}">{escape(shown)}</time>'


def _image_html(image_url: str) -> str:
    """The badge image over its placeholder (shown alone when there is no image or it fails)."""
    if not image_url:
        return '<span class="noimage"></span>'
    return (
        f'<span class="thumb"><img src="{escape(image_url)}" alt="" loading="lazy" '
        'referrerpolicy="no-referrer"></span>'
    )


def _entry_html(entry: Entry, added: set[str]) -> str:
    name = escape(entry.name or entry.badge_id)
    if entry.web_url:
        name = f'<a href="{escape(entry.web_url)}" rel="noopener noreferrer">{name}</a>'
    new = '<span class="new">new</span>' if entry.badge_id in added else ""
    dates = f"Issued {_date_html(entry.issued)}" if entry.issued else ""
    if entry.expires:
        dates += f" · Expires {_date_html(entry.expires)}"
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
    return f'<li class="entry">{_image_html(entry.image_url)}<div>{"".join(lines)}</div></li>'


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
        f'<article class="card {action}" id="{escape(card_anchor(preview.user_id))}">'
        f'<h2 class="upn" dir="auto">{escape(_user_principal_name(preview))}</h2>'
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


def _organisation_html(organization_id: str, previews: Sequence[PersonPreview]) -> str:
    """The organisation by name where the badges tell it, with its id in a readable form.

    Neither the crawl record nor the previews store the Credly organisation's own name, so the
    page names it after the issuer that most of the previewed badges name (the organisation
    itself for the badges it issues), and says so.
    """
    issuers = Counter(
        entry.issuer
        for preview in previews
        for prop, _ in SECTIONS
        for entry in entries_of(preview.item, prop)
        if entry.issuer
    )
    code = f'<code class="id">{escape(organization_id)}</code>'
    if not issuers:
        return f"organisation {code}"
    name, _ = issuers.most_common(1)[0]
    return (
        f"organisation <strong>{escape(name)}</strong> "
        f"(the issuer named on most of its badges; id {code})"
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
        f"A {escape(record.kind)} crawl of {_organisation_html(record.organization_id, previews)}"
        f", {escape(record.status)}; requested {escape(human_moment(record.created_at))}. "
        f'Crawl id <code class="id">{escape(record.crawl_id)}</code>; page generated '
        f"{escape(human_moment(generated_at))}."
    )
    warning = "" if record.dry_run else "<p><strong>This crawl was not a dry run.</strong></p>"
    ordered = _order(previews)
    cards = "".join(card_html(p) for p in ordered)
    people = index_html([Person(_user_principal_name(p), p.user_id) for p in ordered])
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
        f"{people}"
        f"<main>{cards or '<p>No person would get a profile item.</p>'}</main>"
        "</body></html>\n"
    )
