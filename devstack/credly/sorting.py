"""The badge list's `sort` parameter: sort keys, their parser and the stable ordering."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from devstack.credly.errors import QueryError
from devstack.credly.records import IssuedBadge

SORT_FIELDS = ("created_at", "issued_at", "updated_at")


@dataclass(frozen=True)
class SortKey:
    """One `sort` key: a badge timestamp field, ascending unless `descending`."""

    field: str
    descending: bool = False


def parse_sort(raw: str | None) -> tuple[SortKey, ...]:
    """Parse `key1|-key2` (leading `-` for descending) into sort keys.

    Args:
        raw: The decoded `sort` query parameter; None or empty for issue order.

    Returns:
        The keys, most significant first.

    Raises:
        QueryError: On an empty or unknown key.
    """
    if not raw:
        return ()
    keys = []
    for item in raw.split("|"):
        name = item.strip()
        descending = name.startswith("-")
        name = name.removeprefix("-")
        if name not in SORT_FIELDS:
            raise QueryError(f"unknown sort key {item!r}; supported: {', '.join(SORT_FIELDS)}")
        keys.append(SortKey(name, descending))
    return tuple(keys)


def sort_badges(badges: Iterable[IssuedBadge], keys: Sequence[SortKey]) -> list[IssuedBadge]:
    """The badges ordered by the keys; ties keep their given (issue) order, so paging is stable.

    Args:
        badges: The badges, in issue order.
        keys: The sort keys, most significant first.

    Returns:
        A new sorted list.
    """
    items = list(badges)
    # Python's sort is stable, also with reverse=True, so sorting by the least significant
    # key first and the most significant last gives a lexicographic, stable order.
    for key in reversed(keys):
        items.sort(key=attrgetter(key.field), reverse=key.descending)
    return items
