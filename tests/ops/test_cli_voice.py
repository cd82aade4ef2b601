"""One CLI voice: text for people by default, JSON with --json, errors naming the CLI's flags."""

from __future__ import annotations

import json
import re

import pytest

from credly_connector import __version__, about
from credly_connector.__main__ import main
from credly_connector.ops.answers import Answer, problem
from credly_connector.ops.cli_text import refusal, render_overrides, render_retry


def test_version_is_text_by_default_and_json_with_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"{about()['name']} {__version__}\n"
    assert main(["version", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == about()


def test_a_refusal_is_its_message_on_one_line_without_http_fields() -> None:
    answer = problem(409, "Crawl 1 holds the lease; retry when it has ended.", crawlStatus="x")
    assert refusal(answer) == "error: Crawl 1 holds the lease; retry when it has ended.\n"
    # An answer without the usual envelope is still shown whole rather than lost.
    assert refusal(Answer(500, {"odd": 1})).startswith('error: {\n  "odd": 1')


def test_the_override_table_says_whether_each_override_holds_badges() -> None:
    body = {
        "value": [
            {
                "email": "a@gmail.com",
                "userPrincipalName": "a@contoso.com",
                "setBy": "cli:ann",
                "setAt": "2026-01-02T03:04:05Z",
                "userId": "u-1",
                "reason": None,
            },
            {
                "email": "bee@gmail.com",
                "userPrincipalName": "gone@contoso.com",
                "setBy": "http",
                "setAt": "2026-01-03T03:04:05Z",
                "userId": None,
                "reason": "unmatched_email",
            },
        ]
    }
    rows = [line.split() for line in render_overrides(body).splitlines()]
    assert rows[1] == ["a@gmail.com", "a@contoso.com", "cli:ann", "2026-01-02T03:04:05Z", "yes"]
    assert rows[2][-1] == "no"
    assert render_overrides({"value": []}) == "no identity override\n"


def test_a_retry_names_the_steps_sent_again() -> None:
    body = {"id": "c1", "phase": "pages", "redriven": ["page-2", "batch-5"]}
    assert render_retry({**body, "poisonMessagesRemoved": 0}) == (
        "crawl c1: sent again page-2, batch-5 (phase pages)\n"
    )
    assert render_retry({**body, "poisonMessagesRemoved": 2}).endswith(
        "; 2 poison message(s) removed\n"
    )


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["crawls", "--limit", "0"], "error: --limit must be between 1 and 200; got 0\n"),
        (["crawl", "--workers", "0"], "error: --workers must be at least 1 and --timeout"),
        (["crawl", "--timeout", "0"], "error: --workers must be at least 1 and --timeout"),
        (["crawl", "--lease", "0"], "error: --lease must be at least 1 second\n"),
        (["retry", "1" * 19, "--workers", "0"], "error: --workers must be at least 1"),
        (["rebuild", "--to", "x", "--timeout", "-1"], "error: --workers must be at least 1"),
    ],
)
def test_a_bad_flag_is_refused_naming_the_flag_before_anything_runs(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(named)
    assert captured.err.count("\n") == 1
    assert captured.out == ""


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "-h"])
    assert stopped.value.code == 0
    return capsys.readouterr().out


def _choices(help_text: str) -> list[str]:
    """The subcommands a usage line lists as `{a,b,c}`."""
    found = re.search(r"\{([a-z,-]+)\}", help_text)
    assert found is not None, help_text
    return found.group(1).split(",")


def test_every_command_but_the_csv_report_offers_json(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _choices(_help([], capsys))
    assert {"status", "override", "health", "report"} <= set(commands)
    leaves = [[c] for c in commands if c != "override"]
    leaves += [["override", a] for a in _choices(_help(["override"], capsys))]

    without = [" ".join(argv) for argv in leaves if "--json" not in _help(argv, capsys)]

    # `report` writes CSV: a file format for spreadsheets, not a message to render.
    assert without == ["report"]
