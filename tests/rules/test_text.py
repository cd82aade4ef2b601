"""Tests of HTML-to-text conversion and single-line text cleaning."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credly_connector.rules.text import DESCRIPTION_LIMIT, clean_text, html_to_text, strip_controls


@pytest.mark.parametrize(
    ("html", "expected"),
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
        ("", ""),
    ],
)
def test_html_to_text_gives_plain_single_line_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_html_to_text_caps_at_the_description_limit() -> None:
    text = html_to_text("<p>" + "word " * 1000 + "</p>")

    assert len(text) <= DESCRIPTION_LIMIT
    assert text.startswith("word word")
    assert not text.endswith(" ")


def test_html_to_text_handles_a_megabyte_of_markup() -> None:
    text = html_to_text("<div>" + "<span>é</span>" * 80_000 + "<script>" + "x" * 10**6)

    assert text == "é" * DESCRIPTION_LIMIT


def test_html_to_text_drops_a_megabyte_script_and_keeps_what_follows() -> None:
    assert html_to_text("<script>" + "x" * 10**6 + "</script> after") == "after"


def test_lone_surrogates_are_removed() -> None:
    assert html_to_text("bad \ud800 surrogate") == "bad surrogate"


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("  Azure\nAdministrator\t ", 100, "Azure Administrator"),
        ("a\x00b\x1bc", 100, "abc"),
        ("abcdef", 3, "abc"),
        ("ab cdef", 3, "ab"),
        ("\u200fRTL mark kept", 100, "\u200fRTL mark kept"),
    ],
)
def test_clean_text(value: str, limit: int, expected: str) -> None:
    assert clean_text(value, limit=limit) == expected


def test_strip_controls_removes_whitespace_controls_too() -> None:
    assert strip_controls("a\nb\tc\x85d\x9fe") == "abcde"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=400),
            st.sampled_from(["<p>", "</p>", "<script>", "</script>", "&amp;", "<b>", " ", "\n"]),
        ),
        max_size=60,
    )
)
def test_early_stop_gives_the_same_text_as_a_full_parse(parts: list[str]) -> None:
    html = "".join(parts)

    full = html_to_text(html, limit=10**7)

    assert html_to_text(html) == full[:DESCRIPTION_LIMIT].rstrip()
