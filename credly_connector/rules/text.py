"""Turning untrusted Credly text (HTML descriptions, names) into bounded plain single-line text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

DESCRIPTION_LIMIT = 2000
"""Characters kept of a template description."""

_WHITESPACE = re.compile(r"\s+")
# Cc characters that `\s` does not match, and lone surrogates (UTF-8 cannot encode them).
_NON_SPACE_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
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
    """One line of plain text: controls removed, whitespace runs collapsed, trimmed, capped.

    Args:
        value: Untrusted text.
        limit: The most characters kept.

    Returns:
        The cleaned text, at most `limit` characters.
    """
    # Whitespace controls (newline, tab...) become a space rather than vanishing.
    collapsed = _WHITESPACE.sub(" ", _NON_SPACE_CONTROLS.sub("", value))
    return collapsed.strip()[:limit].rstrip()


def html_to_text(value: str, *, limit: int = DESCRIPTION_LIMIT) -> str:
    """Plain text of an HTML fragment: tags removed, scripts and styles dropped, entities unescaped.

    Whitespace is collapsed and the result capped at `limit` characters. Text that is not HTML
    passes through cleaned. Parsing stops once enough text is collected, so megabyte inputs
    cost little.

    Args:
        value: Untrusted HTML or plain text.
        limit: The most characters kept.

    Returns:
        Single-line plain text, at most `limit` characters.
    """
    if "<" not in value and "&" not in value:
        return clean_text(value, limit=limit)
    parser = _TextCollector()
    for start in range(0, len(value), _CHUNK):
        parser.feed(value[start : start + _CHUNK])
        if parser.enough(limit):
            break
    else:
        parser.close()
    return clean_text(parser.text(), limit=limit)


class _TextCollector(HTMLParser):
    """Collects the character data of an HTML fragment outside dropped elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._pieces: list[str] = []
        self._dropping = 0
        self._collected = 0
        self._checked_at = 0

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
        self._collected += len(piece)

    def enough(self, limit: int) -> bool:
        """Whether the text collected so far already yields `limit` cleaned characters."""
        if self._collected - self._checked_at < limit:
            return False
        self._checked_at = self._collected
        return len(clean_text(self.text(), limit=limit + 1)) > limit

    def text(self) -> str:
        """The collected text, uncleaned."""
        return "".join(self._pieces)
