"""Hostile badge records at Credly reach Graph as plain text, or not at all, through a crawl.

The Credly stand-in serves badges whose template names, skills, descriptions and issuer names
carry markup (raw and entity-encoded), bidi overrides and controls, whose issuer has no usable
name, or whose issue date cannot be right; the items the Graph stand-in ends up holding are
checked against the oracle's, with the hostile entries spelled out here.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from devstack.credly.records import IssuedBadge
from devstack.credly.render import BadgeRenderer
from tests.pipeline.conftest import Pipeline

HOSTILE_NAME = "&lt;script&gt;alert(1)&lt;/script&gt;Cloud &lt;b&gt;Architect&lt;/b&gt;\u202e"
HOSTILE_SKILLS = ["<b>Kubernetes</b>", "&amp;lt;i&amp;gt;Docker&amp;lt;/i&amp;gt;"]
HOSTILE_DESCRIPTION = "\u202eevil\u202c <p>text</p>&#x202E;\x00 <script>alert(2)</script>"
UNUSABLE_ISSUER = "<img src=x onerror=alert(3)>"


def _included(pipeline: Pipeline, count: int) -> list[IssuedBadge]:
    """`count` badges the oracle puts on profiles, each of a different person."""
    chosen: list[IssuedBadge] = []
    for item in pipeline.expected().values():
        entry = (item["certifications"] + item["awards"])[0]
        badge = pipeline.world.find_badge(entry["webUrl"].rsplit("/", 1)[1])
        assert badge is not None
        chosen.append(badge)
        if len(chosen) == count:
            return chosen
    raise AssertionError(f"the world has fewer than {count} people with badges")


def _serve(pipeline: Pipeline, badge: IssuedBadge, edit: Any) -> None:
    """Make the Credly stand-in serve `badge` as `edit` changes its rendered JSON."""
    credly = pipeline.world.credly
    rendered = copy.deepcopy(BadgeRenderer(credly).badge(badge))
    edit(rendered)
    with credly.lock:
        badge.overrides = {key: rendered[key] for key in ("badge_template", "issuer", "issued_at")}
    credly.touch()


def _entry(items: dict[str, dict[str, Any]], badge_id: str) -> tuple[dict[str, Any], str]:
    """The entry of a badge in `items` and the id of the item holding it."""
    for item_id, item in items.items():
        for entry in item["certifications"] + item["awards"]:
            if entry["webUrl"].rsplit("/", 1)[1] == badge_id:
                return entry, item_id
    raise AssertionError(f"badge {badge_id} is on no item")


def _all_entries(items: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for item in items.values() for e in item["certifications"] + item["awards"]]


def test_hostile_texts_reach_graph_as_plain_text_and_bad_dates_not_at_all(
    make_pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline: Pipeline = make_pipeline(badges=80, seed=53, env={"INDEX_SKILLS": "true"})
    marked, unusable_issuer, no_issuer, ancient = _included(pipeline, 4)
    rendered = BadgeRenderer(pipeline.world.credly).badge(unusable_issuer)
    owner_name = rendered["badge_template"]["owner"]["name"]

    def mark_up(raw: dict[str, Any]) -> None:
        raw["badge_template"].update(
            name=HOSTILE_NAME, skills=HOSTILE_SKILLS, description=HOSTILE_DESCRIPTION
        )

    def unusable(raw: dict[str, Any]) -> None:
        for entity in raw["issuer"]["entities"]:
            entity["entity"]["name"] = UNUSABLE_ISSUER

    def nobody(raw: dict[str, Any]) -> None:
        unusable(raw)
        raw["badge_template"]["owner"]["name"] = "&lt;b&gt;&lt;/b&gt;"

    def antique(raw: dict[str, Any]) -> None:
        raw["issued_at"] = "1900-01-01T00:00:00.000Z"

    for badge, edit in [
        (marked, mark_up),
        (unusable_issuer, unusable),
        (no_issuer, nobody),
        (ancient, antique),
    ]:
        _serve(pipeline, badge, edit)
    # The oracle reads the hostile JSON as it is (the entries it cannot know are fixed below),
    # and the badge with the impossible date as if Credly did not hold it.
    credly = pipeline.world.credly
    with credly.lock:
        credly.remove_badge(ancient.org_id, ancient.id)
        expected = pipeline.expected(index_skills=True)
        credly.put_badge(ancient)
    caplog.set_level(logging.INFO, logger="credly_connector.pipeline.pages")

    result = pipeline.crawl("full")

    assert result.succeeded, result.record
    stored = pipeline.stored()
    entry, item_id = _entry(expected, marked.id)
    entry.update(displayName="Cloud Architect", description="evil text")
    cleaned = [s for s in expected[item_id]["skills"] if s not in HOSTILE_SKILLS]
    skills = {s.casefold(): s for s in [*cleaned, "Kubernetes", "Docker"]}
    expected[item_id]["skills"] = sorted(skills.values(), key=str.lower)
    entry, _ = _entry(expected, unusable_issuer.id)
    entry["issuingAuthority"] = owner_name
    if "issuingCompany" in entry:
        entry["issuingCompany"] = owner_name
    entry, _ = _entry(expected, no_issuer.id)
    del entry["issuingAuthority"]
    entry.pop("issuingCompany", None)
    assert stored == expected
    assert all(e["webUrl"].rsplit("/", 1)[1] != ancient.id for e in _all_entries(stored))
    skips = [r.getMessage() for r in caplog.records if "invalid_date" in r.getMessage()]
    # A set: a page delivered twice (a slow, loaded machine) logs its skips twice.
    assert set(skips) == {
        f"badge {ancient.id} skipped: invalid_date (issued_at 1900-01-01 is outside 1980-2099)"
    }
