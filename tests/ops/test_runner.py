"""The one ops runner: setup not run answers 503 with its fix, bad settings 500, on every route."""

from __future__ import annotations

import json

import pytest

from bindings import answer
from credly_connector.__main__ import main
from credly_connector.ops.answers import Answer
from credly_connector.ops.crawls import crawl_status, list_crawls
from credly_connector.ops.reports import badge_report
from credly_connector.ops.runner import crawl_status_url, run_operation
from credly_connector.pipeline.context import CrawlContext
from credly_connector.runtime import build_context, host_context
from credly_connector.settings import load_settings
from devstack.azurite import Azurite

SETUP_FIX = "run POST /api/ops/setup (or python -m credly_connector setup)"


def _settings(azurite: Azurite, prefix: str) -> dict[str, str]:
    return {
        "CREDLY_ORGANIZATION_ID": "2f1d7a4e-8c1b-4c39-9f2e-5b9a7e6d4c21",
        "CREDLY_AUTH_TOKEN": "t",
        "AzureWebJobsStorage": azurite.connection_string,
        "STORAGE_PREFIX": prefix,
    }


@pytest.fixture
def unset_up(azurite: Azurite, storage_name: str) -> CrawlContext:
    """A context on storage names where setup never ran: no table or queue exists."""
    return build_context(load_settings(_settings(azurite, storage_name)))


def test_an_operation_meeting_a_missing_table_answers_503_with_the_setup_fix(
    unset_up: CrawlContext,
) -> None:
    # When the crawl list runs through the runner on an account setup never touched,
    answered = run_operation(lambda: list_crawls(unset_up, None))

    # then the answer says to run setup, not a server error.
    assert isinstance(answered, Answer)
    assert answered.status == 503
    assert isinstance(answered.body, dict)
    assert answered.body["error"]["fix"] == SETUP_FIX


def test_the_badge_report_route_answers_503_too_while_reading_its_csv(
    unset_up: CrawlContext,
) -> None:
    # When the report (whose rows are read only as its body is built) runs like its route,
    response = answer(lambda: badge_report(unset_up, None))

    # then the missing badge table is met inside the runner: 503 with the fix, as JSON.
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    assert json.loads(response.get_body())["error"]["fix"] == SETUP_FIX


def test_a_missing_entity_on_existing_tables_stays_the_operations_own_answer(
    unset_up: CrawlContext,
) -> None:
    # Given the tables exist,
    unset_up.tables.ensure()

    # when an unknown crawl's status is asked,
    answered = run_operation(lambda: crawl_status(unset_up, "1767225600000abcdef"))

    # then it is the operation's 404, not the runner's 503.
    assert isinstance(answered, Answer)
    assert answered.status == 404


def test_a_storage_prefix_in_the_app_settings_answers_500_naming_it(
    azurite: Azurite, storage_name: str
) -> None:
    # When the bindings' context is built from app settings holding STORAGE_PREFIX,
    answered = run_operation(lambda: host_context(_settings(azurite, storage_name)))

    # then the answer names the setting and its fix.
    assert isinstance(answered, Answer)
    assert answered.status == 500
    message = answered.body["error"]["message"] if isinstance(answered.body, dict) else ""
    assert "STORAGE_PREFIX" in message
    assert "remove STORAGE_PREFIX from the app settings" in message


def test_a_command_on_storage_setup_never_created_says_to_run_setup(
    azurite: Azurite,
    storage_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the command line's settings name storage where setup never ran,
    for name, value in _settings(azurite, storage_name).items():
        monkeypatch.setenv(name, value)

    # when the badge report is asked for,
    code = main(["report"])

    # then it ends as a configuration error saying to run setup, without a traceback.
    assert code == 2
    said = capsys.readouterr().err
    assert said.strip().endswith(f"Fix: {SETUP_FIX}")
    assert "Traceback" not in said


@pytest.mark.parametrize(
    "url",
    [
        "https://connector.example/api/ops/crawls",
        "https://connector.example/api/ops/crawls/?code=secret",
        "https://connector.example/api/ops/crawls/1767225600000abcdef/retry?code=secret",
    ],
)
def test_every_crawls_route_gives_one_status_url_without_its_key(url: str) -> None:
    assert crawl_status_url(url) == "https://connector.example/api/ops/crawls/{id}"
