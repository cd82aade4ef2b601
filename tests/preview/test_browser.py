"""The preview page as people see it: headless Chromium at desktop and phone widths.

The page holds 2,000 people (thousands is what the index is for), one of them with a very
long UPN and three badges: an image that loads from a loopback server, one that fails (404),
and one without an image. Layout is read through the DevTools protocol; the placeholder is
checked on screen pixels; the index is walked with real mouse clicks.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from credly_connector.preview.page import render_page
from credly_connector.rules import compose_item_report
from credly_connector.stores.crawls import CrawlRecord, CrawlStatus
from credly_connector.stores.previews import PersonPreview
from tests.preview.browser import Chromium, start_chromium
from tests.rules.builders import ORG_ID, make_badge, make_user

NOW = datetime(2026, 11, 1, 9, 5, tzinfo=UTC)
CRAWL = CrawlRecord(
    crawl_id="8246000000000abcdef",
    organization_id=ORG_ID,
    kind="full",
    trigger="cli",
    created_at=NOW,
    status=CrawlStatus.SUCCEEDED,
    phase="done",
    dry_run=True,
    counts={"skipped": {"private": 3, "not_accepted": 2}},
)
ISSUER = "Contoso Learning"
# No hyphen or space to break at: only overflow-wrap can wrap it.
LONG_UPN = (
    "aurelia.konstantinopoulou.vandenberghe.internationalpartnerships"
    "@emeasubsidiary.contosoenterprises.onmicrosoft.com"
)
LONG_ID = "0f6a3c1e-0000-4000-8000-00000000long"
# fmt: off
FIRST = (
    "maria", "marco", "maya", "mateo", "mei", "mohammed", "adele", "alex", "ben", "chloe",
    "diego", "elena", "farah", "george", "hana", "ivan", "jamal", "kim", "liam", "nora",
    "omar", "priya", "quinn", "rosa", "sam", "tariq", "uma", "victor", "wen", "yara", "zoe",
)
LAST = (
    "abbott", "baker", "chen", "dubois", "evans", "fischer", "garcia", "haddad", "ito",
    "jensen", "kowalski", "lopez", "moreau", "nakamura", "ortega", "patel", "quist",
    "rossi", "silva", "tanaka", "ueda", "vance", "weber", "xu", "young", "zimmermann",
    "adeyemi", "bianchi", "costa", "dahl", "eriksen", "fontaine", "gallo", "horvat",
    "ibrahim", "jovanovic", "kaur", "larsen", "murphy", "novak", "olsen", "petrov", "reyes",
    "schmidt", "torres", "varga", "wagner", "yilmaz", "ziegler", "ahmed", "brown", "clark",
    "davis", "ellis", "ford", "green", "hill", "irwin", "james", "king", "lee", "mills",
    "nash", "owens", "price", "reid",
)
# fmt: on
CROWD = 2000
TARGET = "maria.ortega@contoso.com"
SHADE = 32
VIEWPORTS = {"desktop": (1280, 800, False), "phone": (390, 844, True)}


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), color).save(out, format="PNG")
    return out.getvalue()


RED_PNG = _png((255, 0, 0))


class _Images(BaseHTTPRequestHandler):
    """`/badge.png` is a red square; every other path is a 404, so its image fails."""

    def do_GET(self) -> None:
        found = self.path == "/badge.png"
        body = RED_PNG if found else b"not found"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "image/png" if found else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def image_host() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    chromium = start_chromium(tmp_path_factory.mktemp("chromium"))
    yield chromium
    chromium.close()


def _preview(user_id: str, upn: str, badges: list[Any], action: str) -> PersonPreview:
    user = make_user(id=user_id, user_principal_name=upn, mail=upn)
    composed = compose_item_report(
        user, badges, web_url="https://www.credly.com", index_skills=False
    )
    assert composed is not None
    return PersonPreview(CRAWL.crawl_id, user_id, action, upn, item=composed.item)


def _people(image_host: str) -> list[PersonPreview]:
    special = _preview(
        LONG_ID,
        LONG_UPN,
        [
            make_badge(
                id="loads",
                issuing_authority=ISSUER,
                image_url=f"{image_host}/badge.png",
                expires_at=datetime(2028, 3, 14, tzinfo=UTC),
            ),
            make_badge(
                id="fails",
                issuing_authority=ISSUER,
                certification=False,
                template_name="Team Player",
                image_url=f"{image_host}/missing.png",
            ),
            make_badge(id="no-image", issuing_authority=ISSUER, image_url=None),
        ],
        "create",
    )
    names = [f"{first}.{last}@contoso.com" for first in FIRST for last in LAST][:CROWD]
    assert TARGET in names
    crowd = [
        _preview(
            f"00000000-0000-4000-8000-{n:012d}",
            upn,
            [make_badge(id=f"b-{n}", issuing_authority=ISSUER, image_url=None)],
            "unchanged",
        )
        for n, upn in enumerate(names)
    ]
    return [*crowd, special]


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory, image_host: str) -> tuple[str, str]:
    """The page's file URL, and the card id of the person the index must reach."""
    people = _people(image_host)
    page = tmp_path_factory.mktemp("preview") / "index.html"
    page.write_text(render_page(CRAWL, people, generated_at=NOW), encoding="utf-8")
    target = next(p for p in people if p.user_principal_name == TARGET)
    return page.as_uri(), f"user-{target.user_id}"


LAYOUT = """(() => {
  const width = document.documentElement.clientWidth;
  const out = {width, scrollWidth: document.documentElement.scrollWidth, outside: [],
               cards: [], upns: []};
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.left < -0.5 || r.right > width + 0.5) && out.outside.length < 5)
      out.outside.push([el.tagName, el.className, Math.round(r.left), Math.round(r.right)]);
  }
  for (const card of document.querySelectorAll('article.card')) {
    const r = card.getBoundingClientRect();
    out.cards.push([card.id, r.left, r.right, r.top]);
    const upn = card.querySelector('h2.upn'), u = upn.getBoundingClientRect();
    if (upn.scrollWidth > upn.clientWidth || u.left < r.left || u.right > r.right)
      out.upns.push([card.id, upn.scrollWidth, upn.clientWidth, u.right, r.right]);
  }
  return out;
})()"""


def _open(browser: Chromium, url: str, viewport: str) -> int:
    width, height, mobile = VIEWPORTS[viewport]
    browser.open(url, width=width, height=height, mobile=mobile)
    return width


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_page_fits_the_width_and_its_cards_flow_to_it(
    browser: Chromium, page_url: tuple[str, str], viewport: str
) -> None:
    width = _open(browser, page_url[0], viewport)

    layout = browser.evaluate(LAYOUT)

    assert width - 20 <= layout["width"] <= width  # less a desktop scroll bar
    width = layout["width"]
    assert layout["scrollWidth"] <= width, layout["outside"]
    assert layout["outside"] == []
    assert layout["upns"] == []
    cards = layout["cards"]
    assert len(cards) == CROWD + 1
    assert all(left >= 0 and right <= width for _, left, right, _ in cards)
    first_row = [card for card in cards if card[3] == cards[0][3]]
    if viewport == "phone":  # one column, as wide as the screen less its margins
        assert len(first_row) == 1
        assert first_row[0][2] - first_row[0][1] >= width - 32
    else:  # several columns whose last ends near the right edge
        assert len(first_row) >= 3
        assert first_row[-1][2] >= width - 40


def test_a_long_upn_wraps_inside_its_card_on_a_phone(
    browser: Chromium, page_url: tuple[str, str]
) -> None:
    width = _open(browser, page_url[0], "phone")

    upn = browser.evaluate(
        f"""(() => {{
          const card = document.getElementById({json.dumps("user-" + LONG_ID)});
          const h = card.querySelector('h2.upn'), c = card.getBoundingClientRect();
          const r = h.getBoundingClientRect();
          const range = document.createRange();
          range.selectNodeContents(h);
          const lines = new Set([...range.getClientRects()].map(q => Math.round(q.top))).size;
          return {{text: h.textContent, left: r.left, right: r.right, lines,
                   cardLeft: c.left, cardRight: c.right}};
        }})()"""
    )

    assert upn["text"] == LONG_UPN
    assert upn["lines"] >= 2  # wrapped, not cut or scrolled
    assert upn["cardLeft"] <= upn["left"]
    assert upn["right"] <= upn["cardRight"] <= width


def _thumb(browser: Chromium, selector: str) -> dict[str, Any]:
    found = browser.evaluate(
        f"""(() => {{
          const card = document.getElementById({json.dumps("user-" + LONG_ID)});
          const el = card.querySelector({json.dumps(selector)});
          const r = el.getBoundingClientRect(), img = el.querySelector('img');
          return {{x: r.left, y: r.top, width: r.width, height: r.height,
                   loaded: img ? img.complete && img.naturalWidth > 0 : null}};
        }})()"""
    )
    assert isinstance(found, dict)
    return found


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_badge_image_that_fails_shows_the_placeholder_not_a_broken_image(
    browser: Chromium, page_url: tuple[str, str], viewport: str
) -> None:
    _open(browser, page_url[0], viewport)
    browser.evaluate(f"document.getElementById({json.dumps('user-' + LONG_ID)}).scrollIntoView()")
    settled = browser.wait_for(
        f"[...document.getElementById({json.dumps('user-' + LONG_ID)})"
        ".querySelectorAll('img')].every(i => i.complete)"
    )
    assert settled

    loads = _thumb(browser, "li.entry:has(a[href$='/loads']) .thumb")
    fails = _thumb(browser, "li.entry:has(a[href$='/fails']) .thumb")
    none = _thumb(browser, "li.entry:has(a[href$='/no-image']) .noimage")

    assert loads["loaded"] is True
    assert fails["loaded"] is False
    assert (fails["width"], fails["height"]) == (none["width"], none["height"]) == (48, 48)
    placeholder = browser.screenshot(none)
    failed = browser.screenshot(fails)
    loaded = browser.screenshot(loads)
    # The failed image looks exactly like the placeholder of a badge without an image...
    # (antialiased rounded corners may differ by a shade; a broken-image icon by far more)
    worst = max(ImageChops.difference(failed, placeholder).tobytes())
    assert worst <= SHADE, "the failed image is not the placeholder"
    # ...which is not blank, and not what a loaded image looks like.
    assert len(set(placeholder.get_flattened_data())) > 1
    red = Image.new("RGB", loaded.size, (255, 0, 0))
    assert max(ImageChops.difference(loaded, red).crop((8, 8, 40, 40)).tobytes()) <= SHADE


def test_dates_read_as_people_write_them_and_the_header_names_the_organisation(
    browser: Chromium, page_url: tuple[str, str]
) -> None:
    _open(browser, page_url[0], "desktop")

    header = browser.evaluate("document.querySelector('header').innerText")
    card = browser.evaluate(f"document.getElementById({json.dumps('user-' + LONG_ID)}).innerText")
    text = browser.evaluate("document.body.innerText")

    assert f"organisation {ISSUER}" in header
    assert ORG_ID in header  # its id still there, for the administrator
    assert "requested 1 Nov 2026, 09:05 UTC" in header
    assert "Issued 14 Mar 2025 · Expires 14 Mar 2028" in card
    assert not [word for word in text.split() if word[:4].isdigit() and word[4:5] == "-"]


def _walk_index_to(browser: Chromium, card_id: str) -> list[str]:
    """Open the index's groups down to a person's name with clicks; the labels clicked."""
    step = f"""(() => {{
      const link = document.querySelector('nav.people a[href="#{card_id}"]');
      const chain = [];
      for (let d = link.closest('details'); d; d = d.parentElement.closest('details'))
        chain.unshift(d);
      const closed = chain.find(d => !d.open);
      const el = closed ? closed.querySelector(':scope > summary') : link;
      el.scrollIntoView({{block: 'center'}});
      const r = el.getBoundingClientRect();
      return {{x: r.left + r.width / 2, y: r.top + r.height / 2, label: el.firstChild.textContent,
               link: !closed}};
    }})()"""
    labels: list[str] = []
    for _ in range(8):
        target = browser.evaluate(step)
        labels.append(target["label"])
        browser.click(target["x"], target["y"])
        if target["link"]:
            return labels
    raise AssertionError(f"the index never showed the name after {labels}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_index_reaches_one_person_among_thousands_with_clicks_alone(
    browser: Chromium, page_url: tuple[str, str], viewport: str
) -> None:
    url, card_id = page_url
    _open(browser, url, viewport)

    labels = _walk_index_to(browser, card_id)

    assert labels[0] == "M"
    assert labels[-1] == TARGET
    assert 3 <= len(labels) <= 6, labels  # grouped, so never one list of thousands
    for label in labels[1:-1]:
        assert TARGET.startswith(label.casefold()), labels
    shown = browser.wait_for(
        f"""(() => {{
          const card = document.querySelector(':target');
          if (!card || card.id !== {json.dumps(card_id)}) return null;
          const r = card.getBoundingClientRect();
          return r.top >= 0 && r.top < innerHeight && card.querySelector('h2').textContent;
        }})()"""
    )
    assert shown == TARGET


def test_a_missing_chromium_fails_the_run_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on it

    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium"):
        start_chromium(tmp_path)
