"""Setting names that catch typos: the closest known name, and no false alarm on real names."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from credly_connector.settings import KNOWN_SETTINGS, load_settings
from credly_connector.settings.names import READ_ELSEWHERE, UnknownSetting, unknown_settings

ROOT = Path(__file__).resolve().parents[1]
ORG_ID = "3f2c1b7e-8a4d-4c1e-9b2a-5d6e7f8a9b0c"
BASE = {
    "CREDLY_ORGANIZATION_ID": ORG_ID,
    "CREDLY_AUTH_TOKEN": "credly-token-value",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}


def unknown(env: dict[str, str]) -> dict[str, str | None]:
    return {u.name: u.closest for u in unknown_settings(env, KNOWN_SETTINGS)}


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("CREDLY_AUTH_TOKN", "CREDLY_AUTH_TOKEN"),
        ("INCLUDE_EXPIRD", "INCLUDE_EXPIRED"),
        ("GRAPH_CONECTION_ID", "GRAPH_CONNECTION_ID"),
        ("CRAWL_LEASE_MINUTE", "CRAWL_LEASE_MINUTES"),
        ("PROFILE_BATCHSIZE", "PROFILE_BATCH_SIZE"),
        ("INDEX_SKILL", "INDEX_SKILLS"),
        ("credly_api_url", "CREDLY_API_URL"),
    ],
)
def test_a_typo_names_the_closest_known_setting(typo: str, meant: str) -> None:
    assert unknown({**BASE, typo: "x"}) == {typo: meant}


def test_a_name_like_nothing_known_is_reported_without_a_guess() -> None:
    (found,) = unknown_settings({"GRAPH_QQQQQQQQQQQQ": "1"}, KNOWN_SETTINGS)

    assert found == UnknownSetting("GRAPH_QQQQQQQQQQQQ", None)
    assert "did you mean" not in found.message
    assert "remove GRAPH_QQQQQQQQQQQQ" in found.fix


def test_settings_without_the_connectors_prefixes_are_left_alone() -> None:
    env = {**BASE, "PATH": "/bin", "AzureWebJobsFeatureFlags": "x", "FUNCTIONS_EXTENSION": "4"}

    assert unknown(env) == {}


def test_every_setting_the_product_reads_is_known() -> None:
    env = dict.fromkeys((*KNOWN_SETTINGS, *READ_ELSEWHERE), "x")

    assert unknown(env) == {}


class ReadRecorder(dict[str, str]):
    """App settings that remember each name looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.looked_up: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.looked_up.add(key)
        return super().get(key, default)


def test_loading_looks_up_exactly_the_known_settings() -> None:
    env = ReadRecorder(BASE)

    load_settings(env)

    assert env.looked_up == set(KNOWN_SETTINGS)


def test_credential_settings_named_in_credly_organizations_are_known() -> None:
    listed = [
        {"id": ORG_ID, "authTokenSetting": "CREDLY_TOKEN_ACME"},
        {
            "id": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
            "clientIdSetting": "CREDLY_CLIENT_ID_2",
            "clientSecretSetting": "CREDLY_CLIENT_SECRET_2",
        },
    ]
    env = {
        "CREDLY_ORGANIZATIONS": json.dumps(listed),
        "CREDLY_TOKEN_ACME": "t",
        "CREDLY_CLIENT_ID_2": "i",
        "CREDLY_CLIENT_SECRET_2": "s",
        "CREDLY_TOKEN_ACMEE": "stale",
    }

    assert unknown(env) == {"CREDLY_TOKEN_ACMEE": "CREDLY_TOKEN_ACME"}


def test_the_sample_settings_and_the_deployment_parameters_hold_no_unknown_name() -> None:
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    parameters = (ROOT / "infra" / "main.parameters.json").read_text()
    azd_names = re.findall(r"\$\{([A-Z0-9_]+)", parameters)
    env = {**sample, **dict.fromkeys(azd_names, "x")}

    assert azd_names
    assert unknown(env) == {}


def test_loading_settings_warns_of_a_typo_and_still_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="credly_connector.settings"):
        settings = load_settings({**BASE, "INCLUDE_EXPIRD": "true"})

    assert settings.crawl.include_expired is False
    (line,) = [r.getMessage() for r in caplog.records]
    assert "INCLUDE_EXPIRD" in line
    assert "did you mean INCLUDE_EXPIRED?" in line


def test_loading_valid_settings_warns_of_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="credly_connector.settings"):
        load_settings(BASE)

    assert caplog.records == []
