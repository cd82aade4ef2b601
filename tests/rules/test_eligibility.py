"""Tests of badge eligibility, per-badge decisions and the reason vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from credly_connector.rules import (
    REASON_FIXES,
    BadgeDecision,
    Resolution,
    badge_exclusion,
    decide_badges,
    reasons,
)
from tests.rules.builders import NOW, make_badge, make_user

PAST = NOW - timedelta(days=1)
FUTURE = NOW + timedelta(days=1)


@pytest.mark.parametrize(
    ("fields", "include_expired", "expected"),
    [
        ({}, False, None),
        ({"expires_at": FUTURE}, False, None),
        ({"expires_at": PAST}, True, None),
        ({"state": "pending"}, False, reasons.NOT_ACCEPTED),
        ({"state": "rejected"}, False, reasons.NOT_ACCEPTED),
        ({"state": "archived"}, False, reasons.NOT_ACCEPTED),
        ({"state": ""}, False, reasons.NOT_ACCEPTED),
        ({"state": "revoked"}, False, reasons.REVOKED),
        ({"state": "replaced"}, False, reasons.REPLACED),
        ({"replacement_badge_id": "b-0002"}, False, reasons.REPLACED),
        ({"state": "pending", "replacement_badge_id": "b-0002"}, False, reasons.REPLACED),
        ({"state": "revoked", "replacement_badge_id": "b-0002"}, False, reasons.REVOKED),
        ({"public": False}, False, reasons.PRIVATE),
        ({"public": False}, True, reasons.PRIVATE),
        ({"expires_at": PAST}, False, reasons.EXPIRED),
        ({"expires_at": NOW}, False, reasons.EXPIRED),
        ({"expires_at": NOW + timedelta(microseconds=1)}, False, None),
        # Precedence: state over private over expired.
        ({"state": "pending", "public": False, "expires_at": PAST}, False, reasons.NOT_ACCEPTED),
        ({"state": "revoked", "public": False, "expires_at": PAST}, False, reasons.REVOKED),
        ({"state": "replaced", "public": False}, False, reasons.REPLACED),
        ({"public": False, "expires_at": PAST}, False, reasons.PRIVATE),
    ],
)
def test_badge_exclusion(
    fields: dict[str, Any], include_expired: bool, expected: str | None
) -> None:
    badge = make_badge(**fields)

    assert badge_exclusion(badge, now=NOW, include_expired=include_expired) == expected


def test_badge_exclusion_refuses_a_naive_clock() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        badge_exclusion(make_badge(), now=datetime(2026, 1, 1), include_expired=False)  # noqa: DTZ001


USER = make_user()
MATCHED = Resolution("adele.vance@contoso.com", USER, "mail", None)


@pytest.mark.parametrize(
    ("resolution", "fields", "included", "reason"),
    [
        (MATCHED, {}, True, None),
        (MATCHED, {"state": "pending"}, False, reasons.NOT_ACCEPTED),
        (MATCHED, {"expires_at": PAST}, False, reasons.EXPIRED),
        (Resolution("x@y.com", None, None, reasons.UNMATCHED_EMAIL), {}, False, "unmatched_email"),
        (
            Resolution("x@y.com", None, None, reasons.AMBIGUOUS_EMAIL, ("u1", "u2")),
            {},
            False,
            reasons.AMBIGUOUS_EMAIL,
        ),
        (Resolution("a@b.com", USER, "mail", reasons.INACTIVE_USER), {}, False, "inactive_user"),
        (
            Resolution("a@b.com", USER, "mail", reasons.UNLICENSED_USER),
            {},
            False,
            reasons.UNLICENSED_USER,
        ),
        # Badge reasons come before identity reasons.
        (
            Resolution("x@y.com", None, None, reasons.UNMATCHED_EMAIL),
            {"state": "revoked"},
            False,
            reasons.REVOKED,
        ),
        (
            Resolution("a@b.com", USER, "mail", reasons.INACTIVE_USER),
            {"public": False},
            False,
            reasons.PRIVATE,
        ),
    ],
)
def test_decide_badges_applies_badge_reasons_then_identity_reasons(
    resolution: Resolution, fields: dict[str, Any], included: bool, reason: str | None
) -> None:
    decisions = decide_badges(resolution, [make_badge(**fields)], now=NOW, include_expired=False)

    assert decisions == [BadgeDecision("b-0001", "adele.vance@contoso.com", included, reason)]


def test_decide_badges_keeps_input_order_and_honours_include_expired() -> None:
    badges = [
        make_badge(id="b3", expires_at=PAST),
        make_badge(id="b1"),
        make_badge(id="b2", state="rejected"),
    ]

    strict = decide_badges(MATCHED, badges, now=NOW, include_expired=False)
    lenient = decide_badges(MATCHED, badges, now=NOW, include_expired=True)

    assert [(d.badge_id, d.reason) for d in strict] == [
        ("b3", reasons.EXPIRED),
        ("b1", None),
        ("b2", reasons.NOT_ACCEPTED),
    ]
    assert [(d.badge_id, d.included) for d in lenient] == [
        ("b3", True),
        ("b1", True),
        ("b2", False),
    ]


def test_decide_badges_of_nothing_is_empty() -> None:
    assert decide_badges(MATCHED, [], now=NOW, include_expired=False) == []


def test_reason_constants_have_their_documented_values() -> None:
    assert reasons.ALL_REASONS == (
        "invalid_badge",
        "invalid_email",
        "invalid_date",
        "not_accepted",
        "revoked",
        "replaced",
        "private",
        "expired",
        "unmatched_email",
        "ambiguous_email",
        "inactive_user",
        "unlicensed_user",
    )


@pytest.mark.parametrize("reason", reasons.ALL_REASONS)
def test_every_reason_has_one_actionable_sentence(reason: str) -> None:
    fix = REASON_FIXES[reason]

    assert fix[0].isupper()
    assert fix.endswith(".")
    assert fix.count(". ") == 0
    assert len(fix) <= 200


def test_fixes_cover_exactly_the_reasons() -> None:
    assert set(REASON_FIXES) == set(reasons.ALL_REASONS)


def test_decisions_use_only_known_reasons() -> None:
    badges = [make_badge(id=f"b{n}", state=state) for n, state in enumerate(["accepted", "x"])]
    expired = make_badge(id="e", expires_at=datetime(2000, 1, 1, tzinfo=UTC))

    decisions = decide_badges(MATCHED, [*badges, expired], now=NOW, include_expired=False)

    assert {d.reason for d in decisions} <= {None, *reasons.ALL_REASONS}
