"""The walk of an organisation's badge rows in bounded windows: every key once, in order."""

from __future__ import annotations

import itertools
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from credly_connector.stores.badges import EMAIL_SPLITS, BadgeKey, BadgeStore
from credly_connector.stores.tables import Tables, windows
from tests.rules.builders import BASE_BADGE

ORG = BASE_BADGE.organization_id
KEYS = st.text(alphabet="%+-.09_adgjmpsvyzAZ", max_size=6)


@given(start=KEYS, keys=st.lists(KEYS, max_size=30))
def test_the_windows_cover_every_key_from_the_start_exactly_once_in_order(
    start: str, keys: list[str]
) -> None:
    spans = windows(start, EMAIL_SPLITS)

    assert spans[0][0] == start
    assert spans[-1][1] == ""
    # Each window begins where the one before it ends.
    assert all(low == high for (_, high), (low, _) in itertools.pairwise(spans))
    for key in keys:
        holding = [(low, high) for low, high in spans if low <= key and (not high or key < high)]
        assert len(holding) == (1 if key >= start else 0)


def test_a_walk_crosses_query_pages_and_windows_and_resumes_from_any_row(tables: Tables) -> None:
    store = BadgeStore(tables, [ORG])
    # 1,100 rows in the window from "d" to "g" (more than one query page), a few in others,
    # and emails before the first split and after the last.
    emails = [f"e{i:04d}@contoso.com" for i in range(550)]
    emails += ["+first@contoso.com", "0zero@contoso.com", "alex@contoso.com", "zoe@contoso.com"]
    badges = [
        replace(BASE_BADGE, id=f"b{n}-{email}", recipient_email=email)
        for email in emails
        for n in range(2 if email.startswith("e") else 1)
    ]
    store.write_many(badges)
    every = sorted(BadgeKey.of(b).row_key() for b in badges)

    assert [key.row_key() for key in store.keys(ORG)] == every
    for start in (every[0], every[3], every[700], every[-1], "f", "zz"):
        walked = [key.row_key() for key in store.keys(ORG, start)]
        assert walked == [key for key in every if key >= start]
