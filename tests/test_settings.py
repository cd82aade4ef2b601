"""Tests of the connector's settings: defaults, every validation rule, and secret hygiene."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credly_connector.__main__ import main
from credly_connector.errors import ConfigurationError
from credly_connector.settings import (
    HOST_SETTINGS,
    KNOWN_SETTINGS,
    SettingProblem,
    Settings,
    SettingsError,
    load_settings,
)

ORG_ID = "3f2c1b7e-8a4d-4c1e-9b2a-5d6e7f8a9b0c"
TENANT_ID = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
SAMPLE = Path(__file__).resolve().parents[1] / "local.settings.sample.json"
BASE = {
    "CREDLY_ORGANIZATION_ID": ORG_ID,
    "CREDLY_AUTH_TOKEN": "credly-token-value",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}


def load(**overrides: str) -> Settings:
    """Settings from a minimal valid environment with `overrides` applied ("" unsets)."""
    return load_settings({**BASE, **overrides})


def problems(**overrides: str) -> list[SettingProblem]:
    """The problems reported for the minimal environment with `overrides` applied."""
    with pytest.raises(SettingsError) as raised:
        load(**overrides)
    return raised.value.problems


def settings_named(found: list[SettingProblem]) -> list[str]:
    return [problem.setting for problem in found]


# --- defaults and the error's shape ------------------------------------------------------------


def test_minimal_environment_gets_every_default() -> None:
    settings = load()

    assert settings.credly.api_url == "https://api.credly.com/v1"
    assert settings.credly.web_url == "https://www.credly.com"
    assert settings.credly.token_url == "https://www.credly.com/oauth/token"
    assert settings.graph.api_url == "https://graph.microsoft.com/v1.0"
    assert settings.graph.connection_id == "credlybadges"
    assert settings.graph.ca_file is None
    assert settings.graph.auth_mode == "managed_identity"
    assert settings.storage.prefix == ""
    crawl = settings.crawl
    assert (crawl.incremental_schedule, crawl.full_schedule) == ("0 0 2 * * *", "0 0 3 * * 0")
    assert (crawl.include_expired, crawl.index_skills) == (False, False)
    assert (crawl.lease_minutes, crawl.graph_write_concurrency) == (60, 8)
    # No GRAPH_WRITE_RATE: the fleet finds the connection's limit itself.
    assert (crawl.graph_write_rate, crawl.profile_batch_size) == (None, 100)


def test_organization_id_is_stored_in_canonical_lower_case() -> None:
    settings = load(CREDLY_ORGANIZATION_ID="{" + ORG_ID.upper() + "}")

    assert settings.credly.primary.id == ORG_ID


def test_settings_are_frozen() -> None:
    settings = load()

    with pytest.raises(AttributeError):
        settings.crawl.lease_minutes = 5  # type: ignore[misc]


def test_only_the_mapping_passed_in_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDLY_ORGANIZATION_ID", ORG_ID)

    with pytest.raises(SettingsError) as raised:
        load_settings(
            {"CREDLY_AUTH_TOKEN": "t", "AzureWebJobsStorage": "UseDevelopmentStorage=true"}
        )

    assert "CREDLY_ORGANIZATION_ID" in settings_named(raised.value.problems)


INVALID = [
    ({"CREDLY_ORGANIZATION_ID": ""}, "CREDLY_ORGANIZATION_ID"),
    ({"CREDLY_ORGANIZATION_ID": "acme-org"}, "CREDLY_ORGANIZATION_ID"),
    ({"CREDLY_AUTH_TOKEN": ""}, "CREDLY_AUTH_TOKEN"),
    ({"CREDLY_CLIENT_ID": "cid"}, "CREDLY_AUTH_TOKEN"),
    ({"CREDLY_AUTH_TOKEN": "", "CREDLY_CLIENT_ID": "cid"}, "CREDLY_CLIENT_SECRET"),
    ({"CREDLY_AUTH_TOKEN": "", "CREDLY_CLIENT_SECRET": "cs"}, "CREDLY_CLIENT_ID"),
    ({"CREDLY_API_URL": "api.credly.com/v1"}, "CREDLY_API_URL"),
    ({"CREDLY_WEB_URL": "http://www.credly.com"}, "CREDLY_WEB_URL"),
    (
        {
            "CREDLY_API_URL": "https://sandbox-api.credly.com/v1",
            "CREDLY_WEB_URL": "https://www.credly.com",
        },
        "CREDLY_WEB_URL",
    ),
    ({"GRAPH_API_URL": "ftp://graph.microsoft.com"}, "GRAPH_API_URL"),
    ({"GRAPH_CONNECTION_ID": "credly-badges"}, "GRAPH_CONNECTION_ID"),
    ({"AZURE_TENANT_ID": "contoso"}, "AZURE_TENANT_ID"),
    ({"AZURE_CLIENT_SECRET": "s", "AZURE_CLIENT_ID": "c"}, "AZURE_TENANT_ID"),
    ({"AZURE_CLIENT_SECRET": "s", "AZURE_TENANT_ID": TENANT_ID}, "AZURE_CLIENT_ID"),
    ({"GRAPH_ACCESS_TOKEN": "t"}, "GRAPH_ACCESS_TOKEN"),
    ({"GRAPH_CA_FILE": "no-such-ca.pem"}, "GRAPH_CA_FILE"),
    ({"AzureWebJobsStorage": ""}, "AzureWebJobsStorage"),
    ({"AzureWebJobsStorage": "AccountName=acct"}, "AzureWebJobsStorage"),
    (
        {"AzureWebJobsStorage": "", "AzureWebJobsStorage__queueServiceUri": "https://q.example"},
        "AzureWebJobsStorage__tableServiceUri",
    ),
    (
        {"AzureWebJobsStorage": "", "AzureWebJobsStorage__accountName": "Acct"},
        "AzureWebJobsStorage__accountName",
    ),
    ({"STORAGE_PREFIX": "Run1"}, "STORAGE_PREFIX"),
    ({"INCREMENTAL_CRAWL_SCHEDULE": "0 2 * * *"}, "INCREMENTAL_CRAWL_SCHEDULE"),
    ({"FULL_CRAWL_SCHEDULE": "0 0 3 * * 8"}, "FULL_CRAWL_SCHEDULE"),
    ({"INCLUDE_EXPIRED": "maybe"}, "INCLUDE_EXPIRED"),
    ({"INDEX_SKILLS": "on"}, "INDEX_SKILLS"),
    ({"CRAWL_LEASE_MINUTES": "4"}, "CRAWL_LEASE_MINUTES"),
    ({"GRAPH_WRITE_CONCURRENCY": "65"}, "GRAPH_WRITE_CONCURRENCY"),
    ({"GRAPH_WRITE_RATE": "0"}, "GRAPH_WRITE_RATE"),
    ({"PROFILE_BATCH_SIZE": "ten"}, "PROFILE_BATCH_SIZE"),
]


@pytest.mark.parametrize(("overrides", "setting"), INVALID)
def test_each_validation_error_names_the_setting_and_a_fix(
    overrides: dict[str, str], setting: str
) -> None:
    found = problems(**overrides)

    assert settings_named(found) == [setting]
    assert found[0].message
    assert len(found[0].fix) > 10


def test_every_problem_is_reported_in_one_error() -> None:
    found = problems(
        CREDLY_ORGANIZATION_ID="nope",
        GRAPH_CONNECTION_ID="x",
        INCLUDE_EXPIRED="perhaps",
        PROFILE_BATCH_SIZE="0",
    )

    assert settings_named(found) == [
        "CREDLY_ORGANIZATION_ID",
        "GRAPH_CONNECTION_ID",
        "INCLUDE_EXPIRED",
        "PROFILE_BATCH_SIZE",
    ]


def test_error_text_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(SettingsError) as raised:
        load(CRAWL_LEASE_MINUTES="1", INDEX_SKILLS="sure")

    lines = str(raised.value).splitlines()
    assert lines[1:] == [str(problem) for problem in raised.value.problems]
    assert lines[1].startswith("INDEX_SKILLS: 'sure' is not a boolean. Fix: ")
    assert lines[2].startswith("CRAWL_LEASE_MINUTES: '1' is not a whole number")
    assert isinstance(raised.value, ConfigurationError)


# --- secrets -----------------------------------------------------------------------------------

SECRETS = {
    "CREDLY_CLIENT_SECRET": "credly-client-secret-value",
    "AZURE_CLIENT_SECRET": "azure-client-secret-value",
    "AzureWebJobsStorage": "AccountName=acct;AccountKey=storage-key-value==",
}


def test_secrets_never_appear_in_repr_str_or_redacted_view() -> None:
    settings = load(
        CREDLY_AUTH_TOKEN="",
        CREDLY_CLIENT_ID="cid",
        AZURE_TENANT_ID=TENANT_ID,
        AZURE_CLIENT_ID="app",
        **SECRETS,
    )
    token_settings = load(GRAPH_API_URL="http://127.0.0.1:9/v1.0", GRAPH_ACCESS_TOKEN="graph-tok")

    shown = [repr(settings), str(settings), str(settings.redacted())]
    shown += [repr(token_settings), str(token_settings), str(token_settings.redacted())]
    for secret in [*SECRETS.values(), "storage-key-value", "credly-token-value", "graph-tok"]:
        assert all(secret not in text for text in shown)
    assert settings.credly.primary.client_secret == SECRETS["CREDLY_CLIENT_SECRET"]


def test_redacted_view_covers_every_setting_and_marks_secrets() -> None:
    view = load(AZURE_CLIENT_SECRET="", CREDLY_CLIENT_ID="").redacted()

    assert tuple(view) == KNOWN_SETTINGS
    assert view["CREDLY_AUTH_TOKEN"] == "***"
    assert view["AzureWebJobsStorage"] == "***"
    assert view["AZURE_CLIENT_SECRET"] == "(not set)"
    assert view["CRAWL_LEASE_MINUTES"] == 60
    assert view["CREDLY_ORGANIZATION_ID"] == ORG_ID


def test_the_settings_command_shows_every_value_in_force_without_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (*KNOWN_SETTINGS, *HOST_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**BASE, "CRAWL_LEASE_MINUTES": "45"}.items():
        monkeypatch.setenv(name, value)

    assert main(["settings"]) == 0
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert list(lines) == list(KNOWN_SETTINGS)
    assert lines["CRAWL_LEASE_MINUTES"] == "45"
    assert lines["FULL_CRAWL_SCHEDULE"] == load().crawl.full_schedule
    assert (lines["CREDLY_AUTH_TOKEN"], lines["AZURE_CLIENT_SECRET"]) == ("***", "(not set)")
    assert main(["settings", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == load(CRAWL_LEASE_MINUTES="45").redacted()

    monkeypatch.setenv("CREDLY_ORGANIZATION_ID", "not-a-guid")
    assert main(["settings"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err.count("CREDLY_ORGANIZATION_ID: ")) == ("", 1)
    assert "credly-token-value" not in captured.err


def test_errors_never_echo_secret_values() -> None:
    with pytest.raises(SettingsError) as raised:
        load(
            AzureWebJobsStorage="AccountKey=storage-key-value",
            AZURE_CLIENT_SECRET="azure-client-secret-value",
            GRAPH_ACCESS_TOKEN="graph-tok",
        )

    text = str(raised.value)
    assert "AzureWebJobsStorage: " in text
    for secret in ("storage-key-value", "azure-client-secret-value", "graph-tok"):
        assert secret not in text


# --- Credly auth and URLs ----------------------------------------------------------------------


def test_organization_token_selects_token_auth() -> None:
    assert load().credly.primary.auth_mode == "auth_token"


def test_client_id_and_secret_select_oauth_client_credentials() -> None:
    org = load(
        CREDLY_AUTH_TOKEN="", CREDLY_CLIENT_ID="cid", CREDLY_CLIENT_SECRET="cs"
    ).credly.primary

    assert org.auth_mode == "client_credentials"
    assert (org.client_id, org.client_secret, org.auth_token) == ("cid", "cs", None)


def test_missing_credly_credentials_explain_both_options() -> None:
    (found,) = problems(CREDLY_AUTH_TOKEN="")

    assert "CREDLY_AUTH_TOKEN" in found.fix
    assert "CREDLY_CLIENT_ID" in found.fix
    assert "CREDLY_CLIENT_SECRET" in found.fix


def test_urls_lose_their_trailing_slash() -> None:
    settings = load(
        CREDLY_API_URL="https://sandbox-api.credly.com/v1/",
        CREDLY_WEB_URL="https://sandbox.credly.com/",
        GRAPH_API_URL="https://graph.microsoft.com/beta/",
    )

    assert settings.credly.api_url == "https://sandbox-api.credly.com/v1"
    assert settings.credly.token_url == "https://sandbox.credly.com/oauth/token"
    assert settings.graph.api_url == "https://graph.microsoft.com/beta"


@pytest.mark.parametrize("host", ["127.0.0.1:8081", "localhost:8081"])
def test_http_is_allowed_for_loopback_stand_ins(host: str) -> None:
    settings = load(
        CREDLY_API_URL=f"http://{host}/v1",
        CREDLY_WEB_URL=f"http://{host}",
        GRAPH_API_URL=f"http://{host}/v1.0",
    )

    assert settings.credly.api_url == f"http://{host}/v1"
    assert settings.graph.api_url == f"http://{host}/v1.0"


@pytest.mark.parametrize("url", ["http://api.credly.com/v1", "/v1", "https://", "mailto:a@b.c"])
def test_urls_must_be_absolute_and_https_off_loopback(url: str) -> None:
    (found,) = problems(CREDLY_API_URL=url)

    assert found.setting == "CREDLY_API_URL"
    assert repr(url) in found.message


@pytest.mark.parametrize(
    ("api_url", "web_url"),
    [
        ("https://sandbox-api.credly.com/v1", "https://www.credly.com"),
        ("https://api.credly.com/v1", "https://sandbox.credly.com"),
    ],
)
def test_mixing_sandbox_and_production_names_both_settings(api_url: str, web_url: str) -> None:
    (found,) = problems(CREDLY_API_URL=api_url, CREDLY_WEB_URL=web_url)

    assert found.setting == "CREDLY_WEB_URL"
    assert "CREDLY_API_URL" in found.message
    assert "https://sandbox.credly.com" in found.fix


def test_sandbox_api_with_sandbox_web_is_accepted() -> None:
    settings = load(
        CREDLY_API_URL="https://sandbox-api.credly.com/v1",
        CREDLY_WEB_URL="https://sandbox.credly.com",
    )

    assert settings.credly.web_url == "https://sandbox.credly.com"


# --- Graph auth, connection id, CA file --------------------------------------------------------


def test_no_graph_credentials_select_the_system_assigned_identity() -> None:
    graph = load().graph

    assert (graph.auth_mode, graph.client_id) == ("managed_identity", None)


def test_client_id_alone_selects_a_user_assigned_identity() -> None:
    graph = load(AZURE_CLIENT_ID="uami-client-id").graph

    assert (graph.auth_mode, graph.client_id) == ("managed_identity", "uami-client-id")


def test_client_secret_with_tenant_and_client_selects_client_secret() -> None:
    graph = load(
        AZURE_TENANT_ID=TENANT_ID.upper(), AZURE_CLIENT_ID="app", AZURE_CLIENT_SECRET="s"
    ).graph

    assert graph.auth_mode == "client_secret"
    assert graph.tenant_id == TENANT_ID


def test_access_token_is_accepted_for_a_loopback_graph() -> None:
    settings = load(GRAPH_API_URL="http://127.0.0.1:8082/v1.0", GRAPH_ACCESS_TOKEN="tok")

    assert settings.graph.auth_mode == "access_token"
    assert settings.graph.access_token == "tok"


def test_access_token_against_real_graph_says_it_is_for_stand_ins_only() -> None:
    (found,) = problems(GRAPH_ACCESS_TOKEN="tok")

    assert found.setting == "GRAPH_ACCESS_TOKEN"
    assert "stand-ins only" in found.message


def test_access_token_and_client_secret_together_are_refused() -> None:
    found = problems(
        GRAPH_API_URL="http://127.0.0.1:8082/v1.0",
        GRAPH_ACCESS_TOKEN="tok",
        AZURE_TENANT_ID=TENANT_ID,
        AZURE_CLIENT_ID="app",
        AZURE_CLIENT_SECRET="s",
    )

    assert settings_named(found) == ["GRAPH_ACCESS_TOKEN"]


@pytest.mark.parametrize("connection_id", ["credlybadges", "abc", "Badges2024", "x" * 32])
def test_valid_connection_ids_are_kept(connection_id: str) -> None:
    assert load(GRAPH_CONNECTION_ID=connection_id).graph.connection_id == connection_id


@pytest.mark.parametrize(
    "connection_id",
    ["ab", "x" * 33, "credly_badges", "badgés", "MicrosoftBadges", "sharepoint", "PowerBI", "NONE"],
)
def test_connection_ids_graph_would_refuse_are_reported(connection_id: str) -> None:
    (found,) = problems(GRAPH_CONNECTION_ID=connection_id)

    assert found.setting == "GRAPH_CONNECTION_ID"


def test_an_existing_ca_file_is_kept(tmp_path: Path) -> None:
    ca_file = tmp_path / "standin-ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")

    assert load(GRAPH_CA_FILE=str(ca_file)).graph.ca_file == ca_file


def test_a_directory_is_not_a_ca_file(tmp_path: Path) -> None:
    assert settings_named(problems(GRAPH_CA_FILE=str(tmp_path))) == ["GRAPH_CA_FILE"]


# --- storage -----------------------------------------------------------------------------------


def test_development_storage_connection_string_is_accepted() -> None:
    storage = load().storage

    assert storage.connection_string == "UseDevelopmentStorage=true"
    assert storage.account_name == "devstoreaccount1"


def test_account_key_connection_string_names_the_account() -> None:
    storage = load(
        AzureWebJobsStorage="DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=k=="
    ).storage

    assert storage.account_name == "acct"
    assert storage.connection_string is not None
    assert storage.connection_string.endswith("AccountKey=k==")


def test_identity_based_account_name_derives_the_service_urls() -> None:
    storage = load(
        AzureWebJobsStorage="",
        AzureWebJobsStorage__accountName="acct",
        AzureWebJobsStorage__clientId="uami",
    ).storage

    assert storage.connection_string is None
    assert storage.queue_url == "https://acct.queue.core.windows.net"
    assert storage.table_url == "https://acct.table.core.windows.net"
    assert storage.credential_client_id == "uami"


def test_identity_based_service_uris_are_used_as_given() -> None:
    storage = load(
        AzureWebJobsStorage="",
        AzureWebJobsStorage__queueServiceUri="https://acct.queue.core.windows.net/",
        AzureWebJobsStorage__tableServiceUri="http://127.0.0.1:10002/devstoreaccount1",
    ).storage

    assert storage.queue_url == "https://acct.queue.core.windows.net"
    assert storage.table_url == "http://127.0.0.1:10002/devstoreaccount1"


@pytest.mark.parametrize("prefix", ["a", "run42", "abcdefghijkl"])
def test_a_valid_prefix_is_kept_for_queue_and_table_names(prefix: str) -> None:
    storage = load(STORAGE_PREFIX=prefix).storage

    assert storage.prefix == prefix


@pytest.mark.parametrize("prefix", ["Run1", "run-1", "1run", "a" * 25])
def test_prefixes_that_cannot_start_a_queue_or_table_name_are_refused(prefix: str) -> None:
    (found,) = problems(STORAGE_PREFIX=prefix)

    assert found.setting == "STORAGE_PREFIX"


# --- crawl -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [
        "0 */15 * * * *",
        "30 5 1-3,22 1 JAN-MAR mon-fri",
        "0 0 0 31 december Sunday",
        "0 0 12 */2 * 6",
    ],
)
def test_valid_ncrontab_schedules_are_kept(schedule: str) -> None:
    assert load(INCREMENTAL_CRAWL_SCHEDULE=schedule).crawl.incremental_schedule == schedule


@pytest.mark.parametrize(
    "schedule",
    [
        "0 0 2 * *",
        "0 0 2 * * * *",
        "60 0 2 * * *",
        "0 0 24 * * *",
        "0 0 2 0 * *",
        "0 0 2 * 13 *",
        "0 0 2 * * 7",
        "0 0 2 * FOO *",
        "0 0 MON * * *",
        "0 */0 2 * * *",
        "0 0 2 ? * *",
        "0 0 1-2-3 * * *",
        "0 0 2,,3 * * *",
    ],
)
def test_invalid_schedules_are_reported_with_the_default_as_example(schedule: str) -> None:
    (found,) = problems(FULL_CRAWL_SCHEDULE=schedule)

    assert found.setting == "FULL_CRAWL_SCHEDULE"
    assert "'0 0 3 * * 0'" in found.fix


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *[("true", True), ("TRUE", True), ("1", True), ("Yes", True)],
        *[("false", False), ("False", False), ("0", False), ("NO", False)],
    ],
)
def test_booleans_accept_the_usual_spellings(text: str, value: bool) -> None:
    crawl = load(INCLUDE_EXPIRED=text, INDEX_SKILLS=text).crawl

    assert (crawl.include_expired, crawl.index_skills) == (value, value)


def test_numbers_within_their_ranges_are_parsed() -> None:
    crawl = load(
        CRAWL_LEASE_MINUTES="1440",
        GRAPH_WRITE_CONCURRENCY="1",
        GRAPH_WRITE_RATE="2.5",
        PROFILE_BATCH_SIZE="500",
    ).crawl

    assert (crawl.lease_minutes, crawl.graph_write_concurrency) == (1440, 1)
    assert (crawl.graph_write_rate, crawl.profile_batch_size) == (2.5, 500)


@pytest.mark.parametrize(
    ("setting", "text"),
    [
        ("CRAWL_LEASE_MINUTES", "1441"),
        ("CRAWL_LEASE_MINUTES", "60.5"),
        ("PROFILE_BATCH_SIZE", "501"),
        ("GRAPH_WRITE_CONCURRENCY", "0"),
        ("GRAPH_WRITE_RATE", "1000.1"),
        ("GRAPH_WRITE_RATE", "-3"),
        ("GRAPH_WRITE_RATE", "nan"),
        ("GRAPH_WRITE_RATE", "fast"),
    ],
)
def test_numbers_outside_their_ranges_are_reported(setting: str, text: str) -> None:
    (found,) = problems(**{setting: text})

    assert found.setting == setting


# --- the sample local settings -----------------------------------------------------------------


def sample_values() -> dict[str, str]:
    values: dict[str, str] = json.loads(SAMPLE.read_text(encoding="utf-8"))["Values"]
    return values


def test_sample_lists_exactly_the_known_settings() -> None:
    keys = set(sample_values())

    assert keys - set(HOST_SETTINGS) == set(KNOWN_SETTINGS)
    assert sample_values()["FUNCTIONS_WORKER_RUNTIME"] == "python"


def test_sample_loads_once_the_required_blanks_are_filled() -> None:
    values = sample_values()
    values.update(CREDLY_ORGANIZATION_ID=ORG_ID, CREDLY_AUTH_TOKEN="dummy-token")

    settings = load_settings(values)

    assert settings.storage.connection_string == "UseDevelopmentStorage=true"
    assert settings.credly.api_url == "https://sandbox-api.credly.com/v1"


def test_the_sandbox_api_alone_selects_the_sandbox_web_site() -> None:
    settings = load_settings({**BASE, "CREDLY_API_URL": "https://sandbox-api.credly.com/v1"})

    assert settings.credly.web_url == "https://sandbox.credly.com"
    assert settings.credly.token_url == "https://sandbox.credly.com/oauth/token"
