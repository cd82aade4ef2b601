"""The preview page's index of people: find one person among thousands without any script.

People are grouped by the first letter of their name (accents folded, anything else under
`#`); a group larger than `GROUP_LIMIT` is split again by its next letters, and so on, each
group a `<details>` element the browser opens on a click. The names link to their cards by
fragment (`#user-<id>`), which the strict Content-Security-Policy allows as plain navigation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

GROUP_LIMIT = 120
OTHER = "#"


@dataclass(frozen=True)
class Person:
    """One name in the index and the id of the card it links to."""

    name: str
    user_id: str


def card_anchor(user_id: str) -> str:
    """The `id` of a person's card (the index links to it)."""
    return f"user-{user_id}"


def _folded(name: str) -> str:
    """The name for grouping and sorting: accents removed, case folded."""
    decomposed = unicodedata.normalize("NFKD", name.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _letter(person: Person) -> str:
    first = _folded(person.name)[:1]
    return first.upper() if first.isalpha() else OTHER


def _label(prefix: str) -> str:
    return prefix[:1].upper() + prefix[1:]


def _link(person: Person) -> str:
    href = "#" + quote(card_anchor(person.user_id), safe="-")
    return f'<li><a href="{escape(href)}" dir="auto">{escape(person.name)}</a></li>'


def _split(people: Sequence[Person], depth: int) -> dict[str, list[Person]]:
    """People by the first letters of their names, in as few letters as part them.

    The fewest letters past `depth` that part them in two or more groups (names sharing a long
    start, such as `maria.0001`, `maria.0002`, go straight to `maria.00`, `maria.01`...); one
    group when the names cannot be told apart.
    """
    longest = max(len(_folded(p.name)) for p in people)
    groups: dict[str, list[Person]] = {}
    for length in range(depth + 1, longest + 1):
        groups = {}
        for person in people:
            groups.setdefault(_folded(person.name)[:length], []).append(person)
        if len(groups) > 1:
            return groups
    return groups


def _group(label: str, people: Sequence[Person], depth: int) -> str:
    """One `<details>`: the people themselves, or subgroups by more letters when many."""
    summary = f'<summary>{escape(label)}<span class="count">{len(people)}</span></summary>'
    subgroups = _split(people, depth) if len(people) > GROUP_LIMIT else {}
    if len(subgroups) <= 1:
        links = "".join(_link(p) for p in people)
        return f"<details>{summary}<ol>{links}</ol></details>"
    inner = "".join(
        _group(_label(prefix), members, len(prefix)) for prefix, members in subgroups.items()
    )
    return f"<details>{summary}{inner}</details>"


def index_html(people: Sequence[Person]) -> str:
    """The index section, or '' when there is nobody to find."""
    if not people:
        return ""
    ordered = sorted(people, key=lambda p: (_letter(p) == OTHER, _folded(p.name), p.name))
    letters: dict[str, list[Person]] = {}
    for person in ordered:
        letters.setdefault(_letter(person), []).append(person)
    groups = "".join(_group(letter, members, 1) for letter, members in letters.items())
    return (
        '<nav class="people" aria-label="People"><h2>Find a person</h2>'
        f"<p>{len(people)} people by name: open a letter, then follow the name to the card.</p>"
        f"{groups}</nav>"
    )
