"""Hostile text for the rules tests, and the check every cleaned text must pass."""

from __future__ import annotations

import html
import re

from hypothesis import strategies as st

TAG_OPENER = re.compile(r"<[A-Za-z/!?]")
CONTROLS_OR_BIDI = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")

# Pieces hostile text is made of: tags, entities (once, twice and thrice encoded), controls,
# bidi overrides, comments, scripts and characters that only look like markup.
MARKUP_PIECES = (
    "<p>", "</p>", "<b>", "</b>", "<script>", "</script>", "<style>", "<br/>", "<!--", "-->",
    "<img src=x onerror=alert(1)>", "<", ">", "/", "!", "?", "=", '"', "b", "script",
    "&", "&amp;", "&lt;", "&gt;", "&amp;lt;", "&amp;gt;", "&amp;amp;lt;", "&#60;", "&#x3C;",
    "&#x3c", "&lt", "&#0;", "&#x202E;", "&#1114112;", "&copy", "&nbsp;", ";", "#", "x3C",
    "\x00", "\x1b", "\x85", "\u202e", "\u2066", "\u200f", "\ud800", " ", "\n", "\t", "é", "🎓",
)  # fmt: skip
hostile = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(st.sampled_from(MARKUP_PIECES), st.text(max_size=6)), max_size=40).map(
        "".join
    ),
)


def assert_plain(text: str, limit: int) -> None:
    """What every cleaned text must be: bounded, one line, no controls, no markup."""
    assert len(text) <= limit
    assert text == text.strip()
    assert not re.search(r"\s\s", text)
    assert not CONTROLS_OR_BIDI.search(text)
    assert not TAG_OPENER.search(text), text
    # Nothing decodes to anything else, so a reader that decodes entities sees no tag either.
    assert html.unescape(text) == text, text
