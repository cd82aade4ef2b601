"""The connector's pure rules: badge parsing, eligibility, identity matching, item composition.

Nothing here does I/O; every rule is a function of plain values, so it is tested with plain
values and reused unchanged by the pipeline, the admin report and the benchmark.
"""

from __future__ import annotations

from credly_connector.rules import reasons
from credly_connector.rules.badges import Badge, SkippedBadge, canonical_hash, parse_badge
from credly_connector.rules.dates import parse_timestamp
from credly_connector.rules.eligibility import BadgeDecision, badge_exclusion, decide_badges
from credly_connector.rules.identity import DirectoryIndex, Resolution, normalize_email
from credly_connector.rules.items import (
    MAX_ITEM_BYTES,
    PEOPLE_SCHEMA,
    ComposedItem,
    compose_item_report,
    item_content_hash,
    item_id_for,
    item_size,
)
from credly_connector.rules.reasons import REASON_FIXES
from credly_connector.rules.text import plain_text

__all__ = [
    "MAX_ITEM_BYTES",
    "PEOPLE_SCHEMA",
    "REASON_FIXES",
    "Badge",
    "BadgeDecision",
    "ComposedItem",
    "DirectoryIndex",
    "Resolution",
    "SkippedBadge",
    "badge_exclusion",
    "canonical_hash",
    "compose_item_report",
    "decide_badges",
    "item_content_hash",
    "item_id_for",
    "item_size",
    "normalize_email",
    "parse_badge",
    "parse_timestamp",
    "plain_text",
    "reasons",
]
