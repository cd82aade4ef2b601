"""The settings the code reads, those in local.settings.sample.json and those the Bicep sets agree.

KNOWN_SETTINGS is imported at test time on purpose: a setting added to the code without being
added to the Bicep (or to the documented exceptions below) fails here.
"""

from __future__ import annotations

import json
import re

from credly_connector.settings import (
    CREDLY_PRODUCTION_API_URL,
    CREDLY_PRODUCTION_WEB_URL,
    DEFAULT_CONNECTION_ID,
    DEFAULT_FULL_SCHEDULE,
    DEFAULT_GRAPH_API_URL,
    DEFAULT_INCREMENTAL_SCHEDULE,
    HOST_SETTINGS,
    KNOWN_SETTINGS,
    CrawlSettings,
    load_settings,
)
from tests.infra import bicep_text
from tests.infra.bicep_text import DYNAMIC, INFRA, ROOT

# Read by the code but never set by a deployment (infra/README.md, "App settings").
LOCAL_ONLY = {
    "AzureWebJobsStorage",  # a connection string; the deployed storage account has no keys
    "STORAGE_PREFIX",  # lets tests and the benchmark share one account
    "GRAPH_ACCESS_TOKEN",  # a fixed token, accepted for the loopback stand-ins only
    "GRAPH_CA_FILE",  # the stand-ins' self-signed CA
}
# The single-organisation shorthand: a deployment always lists organisations instead.
SINGLE_ORGANIZATION = {
    "CREDLY_ORGANIZATION_ID",
    "CREDLY_AUTH_TOKEN",
    "CREDLY_CLIENT_ID",
    "CREDLY_CLIENT_SECRET",
}
# Read by the Functions host or its Python worker, not by the connector.
DEPLOYED_HOST_SETTINGS = {
    "AzureWebJobsStorage__credential",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
}
# Each organisation's credentials, numbered from 1 and named in CREDLY_ORGANIZATIONS.
PER_ORGANIZATION = {f"CREDLY_TOKEN_{DYNAMIC}", f"CREDLY_CLIENT_ID_{DYNAMIC}"}
PER_ORGANIZATION |= {f"CREDLY_CLIENT_SECRET_{DYNAMIC}"}
SECRETS = {f"CREDLY_TOKEN_{DYNAMIC}", f"CREDLY_CLIENT_SECRET_{DYNAMIC}", "AZURE_CLIENT_SECRET"}


def test_bicep_sets_every_setting_the_code_reads_and_nothing_else() -> None:
    expected = set(KNOWN_SETTINGS) - LOCAL_ONLY - SINGLE_ORGANIZATION
    expected |= DEPLOYED_HOST_SETTINGS | PER_ORGANIZATION

    assert bicep_text.app_setting_names() == expected


def test_documented_exceptions_are_settings_the_code_reads() -> None:
    # An exception for a setting the code no longer reads would hide nothing and mislead.
    assert set(KNOWN_SETTINGS) >= (LOCAL_ONLY | SINGLE_ORGANIZATION)


def test_local_only_and_flex_deprecated_settings_appear_in_no_bicep_code() -> None:
    forbidden = (
        LOCAL_ONLY | set(HOST_SETTINGS) | {"FUNCTIONS_EXTENSION_VERSION", "WEBSITE_TIME_ZONE"}
    )
    for path in sorted(INFRA.rglob("*.bicep")):
        code = bicep_text.code_of(path)

        assert not [name for name in forbidden if f"'{name}'" in code], path.name


def test_sample_local_settings_list_the_known_and_host_settings() -> None:
    sample = json.loads((ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))

    assert set(sample["Values"]) == set(KNOWN_SETTINGS) | set(HOST_SETTINGS)


def test_organizations_list_names_exactly_the_per_organization_settings() -> None:
    assert bicep_text.organization_setting_names() == PER_ORGANIZATION


def test_secrets_are_key_vault_references_without_a_version() -> None:
    prefix = re.search(r"var secretUriPrefix = '([^']*)'", bicep_text.settings_block())
    assert prefix is not None
    assert prefix.group(1) == "@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/"
    for name in SECRETS:
        lines = bicep_text.setting_lines(name)

        assert lines, name
        assert all("${secretUriPrefix}" in line and "/)'" in line for line in lines), name


def test_key_vault_secret_names_match_the_references() -> None:
    pattern = re.compile(r"credly-[a-z-]+?-\$\{i \+ 1\}|graph-client-secret")
    vault = set(pattern.findall(bicep_text.code_of(INFRA / "modules" / "keyvault.bicep")))
    referenced = set(pattern.findall(bicep_text.settings_block()))
    # Written as '...credly-token' : 'credly-client-secret'}-${i + 1}' in one value.
    referenced |= {
        f"{base}-${{i + 1}}"
        for base in re.findall(r"'(credly-[a-z-]+)'", bicep_text.settings_block())
    }

    assert {"credly-token-${i + 1}", "credly-client-secret-${i + 1}"} <= vault
    assert vault <= referenced
    assert "graph-client-secret" in referenced


def test_storage_connection_is_identity_based() -> None:
    (credential,) = bicep_text.setting_lines("AzureWebJobsStorage__credential")
    (client_id,) = bicep_text.setting_lines("AzureWebJobsStorage__clientId")

    assert "'managedidentity'" in credential
    assert "identityClientId" in client_id


def test_bicep_defaults_equal_the_code_defaults() -> None:
    main = bicep_text.code_of(INFRA / "main.bicep")
    defaults = {
        name: value.strip("'")
        for name, value in re.findall(r"^param (\w+) \w+ = (.+)$", main, re.MULTILINE)
    }
    crawl = CrawlSettings()

    assert defaults["credlyApiUrl"] == CREDLY_PRODUCTION_API_URL
    assert defaults["credlyWebUrl"] == CREDLY_PRODUCTION_WEB_URL
    assert defaults["graphApiUrl"] == DEFAULT_GRAPH_API_URL
    assert defaults["graphConnectionId"] == DEFAULT_CONNECTION_ID
    assert defaults["incrementalCrawlSchedule"] == DEFAULT_INCREMENTAL_SCHEDULE
    assert defaults["fullCrawlSchedule"] == DEFAULT_FULL_SCHEDULE
    assert defaults["includeExpired"] == str(crawl.include_expired).lower()
    assert defaults["indexSkills"] == str(crawl.index_skills).lower()
    assert int(defaults["crawlLeaseMinutes"]) == crawl.lease_minutes
    assert int(defaults["graphWriteConcurrency"]) == crawl.graph_write_concurrency
    assert (float(defaults["graphWriteRate"]) if defaults["graphWriteRate"] else None) == (
        crawl.graph_write_rate
    )
    assert int(defaults["profileBatchSize"]) == crawl.profile_batch_size


def test_settings_shaped_like_the_deployment_load() -> None:
    # What functionapp.bicep writes for a token organisation and an OAuth-client one: unused
    # credential setting names are empty strings, service URIs end in '/', booleans are text.
    tenant = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
    entries = [
        {"id": "3f2c1b7e-8a4d-4c1e-9b2a-5d6e7f8a9b0c", "authTokenSetting": "CREDLY_TOKEN_1"}
        | {"clientIdSetting": "", "clientSecretSetting": ""},
        {"id": "4f2c1b7e-8a4d-4c1e-9b2a-5d6e7f8a9b0c", "authTokenSetting": ""}
        | {
            "clientIdSetting": "CREDLY_CLIENT_ID_2",
            "clientSecretSetting": "CREDLY_CLIENT_SECRET_2",
        },
    ]
    env = {
        "CREDLY_ORGANIZATIONS": json.dumps(entries, separators=(",", ":")),
        "CREDLY_TOKEN_1": "token-from-key-vault",
        "CREDLY_CLIENT_ID_2": "client-id",
        "CREDLY_CLIENT_SECRET_2": "secret-from-key-vault",
        "AzureWebJobsStorage__accountName": "stabc123",
        "AzureWebJobsStorage__queueServiceUri": "https://stabc123.queue.core.windows.net/",
        "AzureWebJobsStorage__tableServiceUri": "https://stabc123.table.core.windows.net/",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": tenant,
        "AZURE_TENANT_ID": tenant,
        "AZURE_CLIENT_ID": tenant,
        "INCLUDE_EXPIRED": "false",
        "INDEX_SKILLS": "true",
    }

    settings = load_settings(env)

    first, second = settings.credly.organizations
    assert (first.auth_mode, first.auth_token) == ("auth_token", "token-from-key-vault")
    assert (second.auth_mode, second.client_secret) == (
        "client_credentials",
        "secret-from-key-vault",
    )
    assert settings.storage.queue_url == "https://stabc123.queue.core.windows.net"
    assert settings.graph.auth_mode == "managed_identity"
    assert settings.crawl.index_skills is True
