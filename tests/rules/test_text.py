"""Tests of the one plain-text cleaning step and of single-line text cleaning."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credly_connector.rules.text import clean_text, plain_text, strip_controls
from tests.rules.hostile_text import MARKUP_PIECES, assert_plain, hostile

LIMIT = 2000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Plain text stays.", "Plain text stays."),
        ("Holders of <b>Azure</b> passed <i>labs</i>.", "Holders of Azure passed labs."),
        ("Tom &amp; Jerry &lt;3 &eacute;t&#233; &#x1F680;", "Tom & Jerry <3 été 🚀"),
        ("a <script>alert(1)</script>b", "a b"),
        ("a<style>p { color: red }</style> b", "a b"),
        ("X <SCRIPT type='text/javascript'>var x = '</b>';</SCRIPT> Y", "X Y"),
        ("before <script>never closed", "before"),
        ("<img src=x onerror=alert(2)>caption", "caption"),
        ("<p>one</p><p>two</p>", "one two"),
        ("line<br>break<br/>again", "line break again"),
        ("<ul><li>a</li><li>b</li></ul>", "a b"),
        ("Py<b>thon</b>", "Python"),
        ("  lots \n\n of\t\twhite   space  ", "lots of white space"),
        ("a < b and c > d", "a < b and c > d"),
        ("<!-- a comment -->visible", "visible"),
        ("nul\x00 and bell\x07 and del\x7f gone", "nul and bell and del gone"),
        ("شارة التميز 🎓 — עברית", "شارة التميز 🎓 — עברית"),
        ("R&D and AT&T", "R&D and AT&T"),
        ("", ""),
    ],
)
def test_plain_text_gives_plain_single_line_text(value: str, expected: str) -> None:
    assert plain_text(value, limit=LIMIT) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Entity-encoded markup is decoded, then stripped: it never comes back as a tag.
        ("&lt;script&gt;alert(1)&lt;/script&gt;Azure", "Azure"),
        ("&lt;b&gt;Bold&lt;/b&gt; name", "Bold name"),
        ("&#60;img src=x onerror=alert(1)&#62;caption", "caption"),
        ("&#x3C;i&#x3E;slanted&#x3C;/i&#x3E;", "slanted"),
        # Encoded twice or three times: still stripped.
        ("&amp;lt;b&amp;gt;twice&amp;lt;/b&amp;gt;", "twice"),
        ("&amp;amp;lt;script&amp;amp;gt;x&amp;amp;lt;/script&amp;amp;gt;thrice", "thrice"),
        # A literal ampersand encoded twice is still an ampersand.
        ("Research &amp;amp; Development", "Research & Development"),
        # A tag cut off at the end is not left as a tag.
        ("Cloud <b", "Cloud b"),
    ],
)
def test_encoded_markup_is_decoded_then_stripped(value: str, expected: str) -> None:
    assert plain_text(value, limit=LIMIT) == expected


def test_markup_encoded_beyond_the_passes_loses_its_angle_brackets_and_ampersands() -> None:
    encoded = "<b>deep</b>"
    for _ in range(6):
        encoded = html.escape(encoded, quote=False)

    text = plain_text(encoded, limit=LIMIT)

    assert "deep" in text
    assert_plain(text, LIMIT)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\u202eevil\u202c name", "evil name"),
        ("a\u2066b\u2067c\u2068d\u2069e\u202a\u202b\u202d", "abcde"),
        ("&#x202E;encoded override", "encoded override"),
        ("\u200fRTL mark kept", "\u200fRTL mark kept"),
        ("&#0;nul", "\ufffdnul"),
        ("bad \ud800 surrogate", "bad surrogate"),
    ],
)
def test_controls_and_bidi_overrides_are_removed(value: str, expected: str) -> None:
    assert plain_text(value, limit=LIMIT) == expected


def test_plain_text_caps_at_the_limit() -> None:
    text = plain_text("<p>" + "word " * 1000 + "</p>", limit=LIMIT)

    assert len(text) <= LIMIT
    assert text.startswith("word word")
    assert not text.endswith(" ")


def test_plain_text_handles_a_megabyte_of_markup() -> None:
    text = plain_text("<div>" + "<span>é</span>" * 80_000 + "<script>" + "x" * 10**6, limit=LIMIT)

    assert text == "é" * LIMIT


def test_plain_text_drops_a_megabyte_script_and_keeps_what_follows() -> None:
    assert plain_text("<script>" + "x" * 10**6 + "</script> after", limit=LIMIT) == "after"


def test_plain_text_drops_a_megabyte_of_encoded_tags_and_keeps_what_follows() -> None:
    assert plain_text("&lt;b&gt;" * 100_000 + "kept", limit=LIMIT) == "kept"


@settings(max_examples=200, deadline=None)
@given(value=hostile, limit=st.integers(min_value=1, max_value=300))
def test_plain_text_is_bounded_plain_and_idempotent(value: str, limit: int) -> None:
    text = plain_text(value, limit=limit)

    assert_plain(text, limit)
    assert plain_text(text, limit=limit) == text


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=400), st.sampled_from(MARKUP_PIECES)),
        max_size=60,
    )
)
def test_early_stop_gives_the_same_text_as_a_full_parse(parts: list[str]) -> None:
    value = "".join(parts)

    full = plain_text(value, limit=10**7)

    assert plain_text(value, limit=LIMIT) == full[:LIMIT].rstrip()


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("  Azure\nAdministrator\t ", 100, "Azure Administrator"),
        ("a\x00b\x1bc", 100, "abc"),
        ("abcdef", 3, "abc"),
        ("ab cdef", 3, "ab"),
        ("\u200fRTL mark kept", 100, "\u200fRTL mark kept"),
        ("override\u202e gone", 100, "override gone"),
        ("<b>markup is not its business</b>", 100, "<b>markup is not its business</b>"),
    ],
)
def test_clean_text(value: str, limit: int, expected: str) -> None:
    assert clean_text(value, limit=limit) == expected


def test_strip_controls_removes_whitespace_controls_too() -> None:
    assert strip_controls("a\nb\tc\x85d\x9fe") == "abcde"
