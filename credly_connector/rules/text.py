"""Turning untrusted Credly text (HTML descriptions, names, skills) into bounded plain text."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_WHITESPACE = re.compile(r"\s+")
# Bidirectional embeddings, overrides and isolates reorder what a reader sees ("Trojan
# source"); the plain marks (U+200E, U+200F) only hint a direction and stay.
_BIDI = "\u202a-\u202e\u2066-\u2069"
# Cc characters that `\s` does not match, lone surrogates (UTF-8 cannot encode them), bidi.
_NON_SPACE_CONTROLS = re.compile(f"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff{_BIDI}]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# What an HTML reader would take for the start of a tag, a comment or a declaration.
_TAG_OPENER = re.compile(r"<[A-Za-z/!?]")
# Candidates for a character reference as `html.unescape` finds them; each is checked by
# decoding it, so the pattern only has to find at least what `html.unescape` finds.
_CHARACTER_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[^\t\n\f <&#;]{1,32});?")
_DROPPED_ELEMENTS = frozenset({"script", "style", "template", "noscript"})
# Tags after which a reader sees a break, so their neighbours must not run together.
_BREAKING_ELEMENTS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "img", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td",
        "th", "tr", "ul",
    }
)  # fmt: skip
# Decode-and-strip passes: markup encoded once is removed by the second pass, encoded twice
# by the third...; what is still markup after the last pass loses its `<` and `&`.
_PASSES = 4
_CHUNK = 8192


def strip_controls(value: str) -> str:
    """Remove every control character (Unicode Cc, whitespace ones included) and lone surrogate.

    Args:
        value: Any string.

    Returns:
        The string without them.
    """
    return _CONTROLS.sub("", value)


def clean_text(value: str, *, limit: int) -> str:
    """One line of text: controls and bidi overrides removed, whitespace collapsed, capped.

    Markup is left as it is: this is for values that are not prose (states, ids, addresses);
    text that people read goes through `plain_text`.

    Args:
        value: Untrusted text.
        limit: The most characters kept.

    Returns:
        The cleaned text, at most `limit` characters.
    """
    # Whitespace controls (newline, tab...) become a space rather than vanishing.
    collapsed = _WHITESPACE.sub(" ", _NON_SPACE_CONTROLS.sub("", value))
    return collapsed.strip()[:limit].rstrip()


def plain_text(value: str, *, limit: int) -> str:
    """The one cleaning step of every text people read: names, skills, issuers, descriptions.

    Entities are decoded, then markup is stripped (tags, comments, and the content of scripts
    and styles), again while the result still holds markup, so nothing encoded comes back as
    a tag; control characters and bidi overrides are removed, whitespace collapsed and the
    result capped at `limit` characters. The result holds no tag and no character reference,
    so cleaning it again changes nothing. Parsing stops once enough text is collected, so
    megabyte inputs cost little.

    Args:
        value: Untrusted text, HTML or not.
        limit: The most characters kept.

    Returns:
        Single-line plain text, at most `limit` characters.
    """
    if "<" not in value and "&" not in value:
        return clean_text(value, limit=limit)
    first = _TextCollector()
    next_check = limit
    for start in range(0, len(value), _CHUNK):
        first.feed(value[start : start + _CHUNK])
        if first.collected >= next_check:
            # Doubling the mark keeps the checks linear in the input, however little text
            # the later passes leave of what the first one collected.
            next_check = 2 * first.collected
            text = clean_text(_later_passes(first.text(), complete=False), limit=limit + 1)
            if len(text) > limit:
                return text[:limit].rstrip()
    first.close()
    return clean_text(_later_passes(first.text(), complete=True), limit=limit)


def _later_passes(text: str, *, complete: bool) -> str:
    """Decode-and-strip `text` (the first pass's output) until no markup is left.

    Args:
        text: Text collected by a first pass.
        complete: Whether `text` is all there is; when not, a construct cut at its end is held
            back, so a prefix of the input gives a prefix of the whole input's result.

    Returns:
        Text without tags or character references.
    """
    text = _NON_SPACE_CONTROLS.sub("", text)
    for _ in range(_PASSES - 1):
        if not _holds_markup(text):
            return text
        parser = _TextCollector()
        parser.feed(text)
        if complete:
            parser.close()
        text = _NON_SPACE_CONTROLS.sub("", parser.text())
    return _without_residue(text)


def _holds_markup(text: str) -> bool:
    return bool(_TAG_OPENER.search(text)) or ("&" in text and html.unescape(text) != text)


def _without_residue(text: str) -> str:
    """Drop the `<` of every tag opener and the `&` of every decodable reference, until none."""
    while True:
        cleaned = _TAG_OPENER.sub(lambda m: m.group()[1:], text)
        cleaned = _CHARACTER_REFERENCE.sub(_disarmed, cleaned)
        if cleaned == text:
            return text
        text = cleaned


def _disarmed(match: re.Match[str]) -> str:
    reference = match.group()
    return reference[1:] if html.unescape(reference) != reference else reference


class _TextCollector(HTMLParser):
    """Collects the (entity-decoded) character data of HTML outside dropped elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._pieces: list[str] = []
        self._dropping = 0
        self.collected = 0
        """Characters collected so far."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_ELEMENTS:
            self._dropping += 1
        elif tag in _BREAKING_ELEMENTS:
            self._add(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKING_ELEMENTS:
            self._add(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_ELEMENTS:
            self._dropping = max(0, self._dropping - 1)
        elif tag in _BREAKING_ELEMENTS:
            self._add(" ")

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self._add(data)

    def _add(self, piece: str) -> None:
        self._pieces.append(piece)
        self.collected += len(piece)

    def text(self) -> str:
        """The collected text, uncleaned."""
        return "".join(self._pieces)
