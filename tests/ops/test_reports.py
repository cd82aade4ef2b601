"""The badge report: one CSV row per stored badge, filters, quoting, the route and the command."""

from __future__ import annotations

import csv
import inspect
import io
from collections.abc import Generator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest

from credly_connector.__main__ import main
from credly_connector.ops.answers import Answer
from credly_connector.ops.people import current_index
from credly_connector.ops.reports import (
    COLUMNS,
    CsvReport,
    badge_report,
    badge_rows,
    csv_lines,
    safe_cell,
)
from tests.ops.conftest import PeopleBound, PeopleWorld, people_body

DAYS = 60


def _report(world: PeopleWorld, expiring_within: str | None = None) -> list[dict[str, str]]:
    report = badge_report(world.pipeline.ctx, expiring_within, now=world.now)
    assert isinstance(report, CsvReport)
    text = "".join(report.lines)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == COLUMNS
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def _world_badges(world: PeopleWorld) -> dict[str, object]:
    return dict(world.pipeline.world.credly.badges[world.pipeline.stack.organization_id])


def test_the_report_has_one_row_per_stored_badge(people_shared_world: PeopleWorld) -> None:
    world = people_shared_world

    rows = _report(world)

    stored = {b.id: b for b in world.pipeline.ctx.badges.scan()}
    assert sorted(r["badge_id"] for r in rows) == sorted(stored)
    assert set(stored) == set(_world_badges(world))
    for row in rows:
        badge = stored[row["badge_id"]]
        assert row["email"] == badge.recipient_email
        assert row["organization_id"] == world.pipeline.stack.organization_id
        assert (row["template_id"], row["state"]) == (badge.template_id, badge.state)
        assert row["template_name"].lstrip("'") == badge.template_name


def test_the_status_column_agrees_with_the_items_in_graph(
    people_shared_world: PeopleWorld,
) -> None:
    world = people_shared_world

    rows = _report(world)

    on_items = {
        str(entry["webUrl"]).rsplit("/", 1)[1]
        for item in world.pipeline.stored().values()
        for entry in [*item["certifications"], *item["awards"]]
    }
    assert {r["badge_id"] for r in rows if r["status"] == "included"} == on_items
    reasons = {r["status"] for r in rows} - {"included"}
    assert {"private", "not_accepted", "revoked", "expired", "unmatched_email"} <= reasons
    twin = world.cases["ambiguous_email"]
    assert {r["matched_upn"] for r in rows if r["email"] == twin} == {""}
    included = next(r for r in rows if r["status"] == "included")
    person = world.person(included["email"])
    user = world.pipeline.world.directory.get(str(person.directory_user_id))
    assert user is not None
    assert included["matched_upn"] == user.user_principal_name


def test_expiring_within_keeps_only_badges_expiring_in_that_window(
    people_shared_world: PeopleWorld,
) -> None:
    world = people_shared_world
    until = world.now + timedelta(days=DAYS)

    rows = _report(world, str(DAYS))

    expected = {
        badge.id
        for badge in world.pipeline.world.credly.badges[
            world.pipeline.stack.organization_id
        ].values()
        if badge.expires_at is not None and world.now < badge.expires_at <= until
    }
    assert expected, "the world should hold badges expiring within 60 days"
    assert {r["badge_id"] for r in rows} == expected
    assert len(_report(world, "0")) == 0


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", " ", "99999999", "1e3", "٣"])
def test_a_bad_expiring_within_is_400(people_shared_world: PeopleWorld, raw: str) -> None:
    answer = badge_report(people_shared_world.pipeline.ctx, raw)

    assert isinstance(answer, Answer)
    assert answer.status == 400
    assert '"expiringWithin"' in people_body(answer)["error"]["message"]


def test_rows_are_produced_lazily_from_the_scan(people_shared_world: PeopleWorld) -> None:
    world = people_shared_world
    ctx = world.pipeline.ctx

    rows = cast(
        Generator[tuple[str, ...], None, None],
        badge_rows(ctx, current_index(ctx), now=world.now, expiring_within=None),
    )

    assert inspect.getgeneratorstate(rows) == inspect.GEN_CREATED
    first = next(rows)
    assert len(first) == len(COLUMNS)
    assert inspect.getgeneratorstate(rows) == inspect.GEN_SUSPENDED


def test_cells_that_spreadsheets_would_run_are_defused_and_quoting_round_trips() -> None:
    hostile = ('=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", 'a,"b"\r\nc', "plain", "")

    text = "".join(csv_lines(iter([hostile])))

    assert text.endswith("\r\n")
    header, row = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(header) == COLUMNS
    assert row == ['\'=HYPERLINK("x")', "'+1", "'-2", "'@SUM(A1)", 'a,"b"\r\nc', "plain", ""]
    assert safe_cell("\tx") == "'\tx"
    assert safe_cell("2026-01-01") == "2026-01-01"


def test_the_route_returns_csv_and_the_command_writes_a_file(
    people_bound: PeopleBound,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "/api/ops/reports/badges.csv"

    ok = people_bound.call("ops_reports_badges", "GET", url)
    bad = people_bound.call("ops_reports_badges", "GET", url, params={"expiringWithin": "-3"})
    out = tmp_path / "badges.csv"
    code = main(["report", "--expiring-within", "3650", "--out", str(out)])

    assert ok.status_code == 200
    assert ok.mimetype == "text/csv"
    assert "attachment" in ok.headers["Content-Disposition"]
    body = ok.get_body().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    badges = people_bound.pipeline.world.credly.badges[people_bound.pipeline.stack.organization_id]
    assert len(rows) == 1 + len(badges)
    assert bad.status_code == 400
    assert code == 0
    written = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"), newline="")))
    assert tuple(written[0]) == COLUMNS
    assert f"{len(written) - 1} badge(s) written" in capsys.readouterr().err
    # A bad flag is refused naming the flag, not the route's parameter.
    assert main(["report", "--expiring-within", "soon"]) == 2
    assert capsys.readouterr().err == (
        "error: --expiring-within must be a whole number of days, 0 or more; got 'soon'.\n"
    )
