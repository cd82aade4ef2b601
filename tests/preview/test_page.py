"""The preview page: panels, change markers and skip summary, with hostile badge data inert."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from credly_connector.preview.index import GROUP_LIMIT, Person, index_html
from credly_connector.preview.page import human_date, human_moment, render_page
from credly_connector.rules import Badge, compose_item_report, parse_badge
from credly_connector.stores.crawls import CrawlRecord, CrawlStatus
from credly_connector.stores.previews import PersonPreview
from tests.rules.builders import ORG_ID, make_badge, make_raw_badge, make_user

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CRAWL = CrawlRecord(
    crawl_id="8246000000000abcdef",
    organization_id=ORG_ID,
    kind="full",
    trigger="cli",
    created_at=NOW,
    status=CrawlStatus.SUCCEEDED,
    phase="done",
    dry_run=True,
    counts={"skipped": {"private": 3, "not_accepted": 2, "<i>odd</i>": 1}},
)
SCRIPT = "<script>alert(1)</script>"


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _words(page: str) -> str:
    """The page's text with its whitespace runs made single spaces."""
    return " ".join(" ".join(_parse(page).text).split())


def _hostile_badge() -> Badge:
    raw = make_raw_badge(
        badge_template={
            **make_raw_badge()["badge_template"],
            "name": "Azure " + SCRIPT,
            "description": 'x" onmouseover="alert(1)',
        },
        image_url="javascript:alert(1)",
    )
    badge = parse_badge(raw, organization_id=ORG_ID)
    assert isinstance(badge, Badge)
    assert badge.template_name == "Azure"  # the parser strips markup from names
    # The page must still show as text whatever an item holds, so put the markup back.
    return replace(badge, template_name=SCRIPT)


def _preview(item: dict[str, Any] | None, **changes: Any) -> PersonPreview:
    values: dict[str, Any] = {
        "crawl_id": CRAWL.crawl_id,
        "user_id": "6e2f0c1a-9b3d-4e5f-8a7b-6c5d4e3f2a1b",
        "action": "create",
        "user_principal_name": "adele.vance@contoso.com",
        "item": item,
        **changes,
    }
    return PersonPreview(**values)


def test_hostile_badge_data_is_shown_as_text_and_never_runs() -> None:
    badge = _hostile_badge()
    composed = compose_item_report(
        make_user(), [badge], web_url="https://www.credly.com", index_skills=False
    )
    assert composed is not None
    item = composed.item
    forged = json.dumps(
        {
            "displayName": "<img src=x onerror=alert(2)>",
            "issuingAuthority": '"><script>alert(3)</script>',
            "issuedDate": "2025-01-01",
            "webUrl": "javascript:alert(4)",
            "thumbnailUrl": "data:text/html,<script>alert(5)</script>",
        }
    )
    item["properties"]["awards"] = [forged]
    hostile_upn = '<b onclick="alert(6)">eve</b>@contoso.com'

    page = render_page(CRAWL, [_preview(item, user_principal_name=hostile_upn)], generated_at=NOW)

    parsed = _parse(page)
    assert "script" not in {tag for tag, _ in parsed.tags}
    # Besides https links and images, only the index's links to the page's own cards.
    cards = {f"#{attrs['id']}" for tag, attrs in parsed.tags if tag == "article"}
    for tag, attrs in parsed.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src"):
            if name in attrs:
                value = str(attrs[name])
                assert value.startswith("https://") or value in cards, (tag, attrs)
    text = " ".join(parsed.text)
    assert SCRIPT in text
    assert "<img src=x onerror=alert(2)>" in text
    assert hostile_upn in text
    assert "javascript:" not in page


def test_each_person_gets_a_panel_with_sections_links_and_a_change_marker() -> None:
    badge = _hostile_badge()
    award = replace(
        badge,
        id="award-1",
        template_name="Team Player",
        certification=False,
        image_url="https://images.credly.com/award.png",
    )
    composed = compose_item_report(
        make_user(), [badge, award], web_url="https://www.credly.com", index_skills=False
    )
    assert composed is not None
    updated = _preview(
        composed.item, action="update", badges_added=("award-1",), badges_removed=("gone-9",)
    )
    deleted = _preview(
        None,
        user_id="0f6a3c1e-0000-4000-8000-000000000002",
        action="delete",
        user_principal_name="leaver@contoso.com",
        badges_removed=("b-7",),
    )

    page = render_page(CRAWL, [deleted, updated], generated_at=NOW)

    parsed = _parse(page)
    cards = [attrs.get("class") for tag, attrs in parsed.tags if tag == "article"]
    assert cards == ["card update", "card delete"]
    text = " ".join(parsed.text)
    for expected in ("Certifications", "Awards", "Team Player", "Changes", "gone-9"):
        assert expected in text
    assert "Item removed" in text
    links = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    assert "https://www.credly.com/badges/award-1" in links
    images = [attrs["src"] for tag, attrs in parsed.tags if tag == "img"]
    assert "https://images.credly.com/award.png" in images
    assert len(images) == 2
    assert text.split().count("new") == 1  # the added badge, and only it


def test_the_skip_summary_lists_each_reason_with_its_count_and_fix() -> None:
    page = render_page(CRAWL, [], generated_at=NOW)

    text = " ".join(_parse(page).text)
    assert "private 3" in " ".join(text.split())
    assert "make the badge public" in text
    assert "<i>odd</i>" in text
    assert "No person would get a profile item." in text


def test_dates_read_as_people_write_them() -> None:
    assert human_date("2026-03-12") == "12 Mar 2026"
    assert human_date("2025-01-01T14:41:00Z") == "1 Jan 2025"
    assert human_date("soon") == "soon"  # not a date: shown as it is (escaped by the page)
    assert human_moment(datetime(2026, 11, 1, 9, 5, tzinfo=UTC)) == "1 Nov 2026, 09:05 UTC"


def test_the_header_names_the_organisation_after_its_badges_issuer_else_shows_its_id() -> None:
    badge = make_badge(issuing_authority="Contoso <Learning>")
    composed = compose_item_report(
        make_user(), [badge], web_url="https://www.credly.com", index_skills=False
    )
    assert composed is not None

    named = _words(render_page(CRAWL, [_preview(composed.item)], generated_at=NOW))
    bare = _words(render_page(CRAWL, [], generated_at=NOW))

    assert "organisation Contoso <Learning> (the issuer named on most of its badges" in named
    assert ORG_ID in named
    assert f"organisation {ORG_ID}" in bare
    assert "2026-11-01" not in named + bare
    assert "requested 1 Nov 2026, 00:00 UTC" in bare


def test_the_index_splits_a_crowded_letter_until_each_list_is_short() -> None:
    people = [Person(f"maria.{n:04d}@contoso.com", f"id-{n}") for n in range(300)]
    people += [Person("Émile Zola", "id-e"), Person("42team@contoso.com", "id-42")]

    page = index_html(people)

    parsed = _parse(page)
    summaries = re.findall(r"<summary>([^<]*)<", page)
    # The accent folded; the 300 names that share "maria.0" split where they differ.
    assert summaries[:5] == ["E", "M", "Maria.00", "Maria.01", "Maria.02"]
    assert summaries[-1] == "#"  # digits and the like last
    lists = page.split("<ol>")[1:]
    assert all(chunk.count("<li>") <= GROUP_LIMIT for chunk in lists)
    assert sum(chunk.count("<li>") for chunk in lists) == len(people)
    links = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    assert "#user-id-e" in links
