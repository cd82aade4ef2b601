"""A Credly listing that shows one badge id on two pages still crawls to exactly the oracle."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from devstack.credly.listing import BadgeSelector
from devstack.credly.paging import PER_PAGE
from devstack.credly.records import IssuedBadge
from devstack.synthetic import Mutator
from tests.pipeline.conftest import Pipeline


class RepeatingSelector:
    """The stand-in's selector, except that each full page's last badge opens the next page too.

    Credly pages by offset, so a badge created or deleted between two page requests shifts the
    list by one: the same badge then shows at the end of one page and the top of the next.
    """

    def __init__(self, inner: BadgeSelector) -> None:
        self.inner = inner
        self.repeated: set[str] = set()

    def select(self, org_id: str, badge_filter: Any, keys: Any) -> list[IssuedBadge]:
        listed: list[IssuedBadge] = []
        for badge in self.inner.select(org_id, badge_filter, keys):
            listed.append(badge)
            if len(listed) % PER_PAGE == 0:
                listed.append(badge)
                self.repeated.add(badge.id)
        return listed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_badge_listed_on_two_pages_is_stored_once_and_shown_once(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(badges=160, seed=19)
    credly = pipeline.stack.credly
    repeating = RepeatingSelector(credly.selector)
    credly.selector = repeating  # type: ignore[assignment]

    full = pipeline.crawl("full")
    Mutator(pipeline.world, seed=4).random_changes(6)
    incremental = pipeline.crawl("incremental")

    assert full.succeeded, full.record
    assert incremental.succeeded, incremental.record
    assert len(repeating.repeated) >= 2
    assert pipeline.stored() == pipeline.expected()
    org = pipeline.stack.organization_id
    rows = Counter(badge.id for badge in pipeline.ctx.badges.scan())
    assert set(rows) == set(pipeline.world.credly.badges[org])
    assert max(rows.values()) == 1
