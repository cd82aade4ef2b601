"""CREDLY_ORGANIZATIONS: several organisations, each naming the settings of its credentials."""

from __future__ import annotations

import json

import pytest

from credly_connector.settings import SettingProblem, SettingsError, load_settings

ORG_A = "3f2c1b7e-8a4d-4c1e-9b2a-5d6e7f8a9b0c"
ORG_B = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
STORAGE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def listed(*entries: object, **env: str) -> dict[str, str]:
    return {**STORAGE, "CREDLY_ORGANIZATIONS": json.dumps(list(entries)), **env}


def problems_of(env: dict[str, str]) -> list[SettingProblem]:
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    return raised.value.problems


def test_a_token_organisation_and_an_oauth_organisation_are_read_in_order() -> None:
    env = listed(
        {"id": ORG_A, "authTokenSetting": "TOKEN_A"},
        {"id": ORG_B.upper(), "clientIdSetting": "ID_B", "clientSecretSetting": "SECRET_B"},
        TOKEN_A="token-a",
        ID_B="client-b",
        SECRET_B="secret-b",
    )

    credly = load_settings(env).credly

    assert credly.organization_ids == (ORG_A, ORG_B)
    first, second = credly.organizations
    assert (first.auth_mode, first.auth_token, first.credential_settings) == (
        "auth_token",
        "token-a",
        ("TOKEN_A",),
    )
    assert (second.auth_mode, second.client_id, second.client_secret) == (
        "client_credentials",
        "client-b",
        "secret-b",
    )
    assert second.credential_settings == ("ID_B", "SECRET_B")
    assert credly.organization(ORG_B) is second
    assert credly.organization("00000000-0000-0000-0000-000000000000") is None


def test_secrets_of_listed_organisations_never_appear_in_repr() -> None:
    env = listed({"id": ORG_A, "authTokenSetting": "TOKEN_A"}, TOKEN_A="very-secret-token")

    settings = load_settings(env)

    assert "very-secret-token" not in repr(settings)
    assert "very-secret-token" not in str(settings.redacted())


def test_without_the_list_the_single_organisation_settings_are_used() -> None:
    env = {**STORAGE, "CREDLY_ORGANIZATION_ID": ORG_A, "CREDLY_AUTH_TOKEN": "t"}

    credly = load_settings(env).credly

    assert credly.organization_ids == (ORG_A,)
    assert credly.primary.credential_settings == ("CREDLY_AUTH_TOKEN",)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("not json", "is not valid JSON"),
        ("[]", "is not a non-empty JSON list"),
        ('{"id": "x"}', "is not a non-empty JSON list"),
        ('["x"]', "entry 1 is not a JSON object"),
        (f'[{{"id": "{ORG_A}", "tokenSetting": "T"}}]', "unknown keys ['tokenSetting']"),
        (f'[{{"id": "{ORG_A}", "authTokenSetting": 5}}]', "not a string"),
        ('[{"id": "acme", "authTokenSetting": "T"}]', "is not a GUID"),
    ],
)
def test_a_malformed_list_names_the_setting_and_the_fix(value: str, says: str) -> None:
    found = problems_of({**STORAGE, "CREDLY_ORGANIZATIONS": value, "T": "token"})

    assert [p.setting for p in found] == ["CREDLY_ORGANIZATIONS"]
    assert says in found[0].message
    assert "JSON list" in found[0].fix or "GUID" in found[0].fix


def test_a_repeated_organisation_is_refused() -> None:
    env = listed(
        {"id": ORG_A, "authTokenSetting": "T"}, {"id": ORG_A, "authTokenSetting": "T"}, T="t"
    )

    found = problems_of(env)

    assert [p.setting for p in found] == ["CREDLY_ORGANIZATIONS"]
    assert "repeats organisation" in found[0].message


def test_a_named_credential_setting_that_is_empty_is_named_in_the_problem() -> None:
    found = problems_of(listed({"id": ORG_A, "authTokenSetting": "CREDLY_TOKEN_ACME"}))

    assert [p.setting for p in found] == ["CREDLY_TOKEN_ACME"]
    assert "no Credly credentials" in found[0].message


def test_an_oauth_organisation_missing_its_secret_names_that_setting() -> None:
    env = listed(
        {"id": ORG_A, "clientIdSetting": "ID_A", "clientSecretSetting": "SECRET_A"}, ID_A="c"
    )

    found = problems_of(env)

    assert [p.setting for p in found] == ["SECRET_A"]
    assert "is not set but ID_A is" in found[0].message


def test_the_list_and_the_single_organisation_id_together_are_refused() -> None:
    env = listed({"id": ORG_A, "authTokenSetting": "T"}, T="t", CREDLY_ORGANIZATION_ID=ORG_B)

    found = problems_of(env)

    assert [p.setting for p in found] == ["CREDLY_ORGANIZATION_ID"]
    assert "remove CREDLY_ORGANIZATION_ID" in found[0].fix
