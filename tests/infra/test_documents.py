"""The deployment documents are well formed and agree with the code and the telemetry contract."""

from __future__ import annotations

import json
import re
from typing import Any

from credly_connector.pipeline.queues import POISON_SUFFIX, QUEUE_NAMES
from credly_connector.stores.tables import TABLE_NAMES
from tests.infra import bicep_text
from tests.infra.bicep_text import INFRA, ROOT

WORKBOOK = INFRA / "workbook" / "connector.workbook.json"
ALERTS = INFRA / "modules" / "alerts.bicep"
# Built-in role definition ids (the same in every tenant) of the identity's five roles.
ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # Storage Queue Data Contributor
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",  # Storage Table Data Contributor
    "3913510d-42f4-4e42-8a64-420c390055eb",  # Monitoring Metrics Publisher
    "4633458b-17de-408a-b874-0445c86b69e6",  # Key Vault Secrets User
}
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def parse_block_yaml(text: str) -> dict[str, Any]:
    """A minimal reader for the block-mapping YAML subset azure.yaml uses (no lists, no flow).

    The main venv has no YAML library; scripts/iac-check validates the file with PyYAML too.
    Raises ValueError on anything outside the subset, so a malformed file fails loudly.
    """
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if "\t" in raw:
            msg = f"line {number}: tab"
            raise ValueError(msg)
        indent = len(line) - len(line.lstrip(" "))
        key, colon, value = line.strip().partition(":")
        if not colon or not re.fullmatch(r"[A-Za-z_][\w-]*", key):
            msg = f"line {number}: not a `key: value` line"
            raise ValueError(msg)
        while indent <= stack[-1][0]:
            stack.pop()
        parent = stack[-1][1]
        if key in parent:
            msg = f"line {number}: duplicate key {key}"
            raise ValueError(msg)
        if value.strip():
            parent[key] = value.strip().strip("'\"")
        else:
            parent[key] = {}
            stack.append((indent, parent[key]))
    return root


def contract() -> tuple[set[str], set[str]]:
    """(metric names, attribute names) listed under "Telemetry contract" in infra/README.md."""
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Telemetry contract", 1)[1].split("\n## ", 1)[0]
    ticked = set(re.findall(r"`([^`]+)`", section))
    metrics = {name for name in ticked if re.fullmatch(r"[a-z]+(\.[a-z]+)+", name)}
    attributes = {name for name in ticked if re.fullmatch(r"[a-z]+(_[a-z]+)*", name)}
    return metrics, attributes


def queries() -> list[str]:
    """Every KQL query of the workbook and the alert rules."""
    workbook = json.loads(WORKBOOK.read_text(encoding="utf-8"))
    found = [item["content"]["query"] for item in workbook["items"] if item["type"] == 3]
    found += re.findall(r"= '''(.*?)'''", ALERTS.read_text(encoding="utf-8"), re.DOTALL)
    return found


def metric_names_in(query: str) -> set[str]:
    names = set(re.findall(r'name == "([^"]+)"', query))
    for listed in re.findall(r"name in \(([^)]*)\)", query):
        names |= set(re.findall(r'"([^"]+)"', listed))
    return names


# --- main.parameters.json and azure.yaml -------------------------------------------------------


def test_parameters_file_sets_only_declared_parameters_and_every_required_one() -> None:
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    declared = dict(
        re.findall(
            r"^param (\w+) \w+( = .*)?$", bicep_text.code_of(INFRA / "main.bicep"), re.MULTILINE
        )
    )
    required = {name for name, default in declared.items() if not default}

    assert set(document["parameters"]) <= set(declared)
    assert required <= set(document["parameters"])
    assert all("value" in entry for entry in document["parameters"].values())
    assert document["parameters"]["environmentName"]["value"] == "${AZURE_ENV_NAME}"


def test_azure_yaml_deploys_this_function_app_with_the_bicep() -> None:
    document = parse_block_yaml((ROOT / "azure.yaml").read_text(encoding="utf-8"))

    assert document["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    (service,) = document["services"].values()
    assert service["language"] == "python"
    assert service["host"] == "function"
    assert (ROOT / service["project"] / "function_app.py").is_file()


def test_minimal_yaml_reader_rejects_what_it_does_not_understand() -> None:
    for bad in ["services:\n\tapi: x\n", "- item\n", "a: 1\na: 2\n"]:
        try:
            parse_block_yaml(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


# --- storage, identity and ordering ------------------------------------------------------------


def test_bicep_creates_every_queue_the_code_uses_with_its_poison_queue() -> None:
    queues = bicep_text.string_list(INFRA / "main.bicep", "queueNames")
    storage = bicep_text.code_of(INFRA / "modules" / "storage.bicep")

    assert sorted(queues) == sorted(QUEUE_NAMES.values())
    assert f"name: '${{name}}{POISON_SUFFIX}'" in storage


def test_bicep_creates_every_table_the_code_uses() -> None:
    assert bicep_text.string_list(INFRA / "main.bicep", "tableNames") == list(TABLE_NAMES)


def test_identity_holds_exactly_the_five_roles() -> None:
    rbac = bicep_text.code_of(INFRA / "modules" / "rbac.bicep")

    assert set(_GUID.findall(rbac)) == ROLES
    assert rbac.count("principalType: 'ServicePrincipal'") == 3  # the loop, publisher, secrets


def test_site_is_created_after_the_role_assignments() -> None:
    main = bicep_text.code_of(INFRA / "main.bicep")
    app = main.split("module app ", 1)[1].split("\n}\n", 1)[0]

    assert re.search(r"dependsOn: \[\s*rbac\s*\]", app)


def test_no_registry_modules() -> None:
    for path in INFRA.rglob("*.bicep"):
        assert not re.search(r"'br[:/]|'ts[:/]", path.read_text(encoding="utf-8")), path.name


def test_storage_and_insights_have_local_auth_off() -> None:
    storage = bicep_text.code_of(INFRA / "modules" / "storage.bicep")
    monitoring = bicep_text.code_of(INFRA / "modules" / "monitoring.bicep")

    assert "allowSharedKeyAccess: false" in storage
    assert "DisableLocalAuth: true" in monitoring
    assert "WorkspaceResourceId: workspace.id" in monitoring


# --- workbook, alerts and the telemetry contract -----------------------------------------------


def test_workbook_is_a_notebook_bound_by_the_bicep() -> None:
    workbook = json.loads(WORKBOOK.read_text(encoding="utf-8"))
    module = (INFRA / "modules" / "workbook.bicep").read_text(encoding="utf-8")
    names = [item["name"] for item in workbook["items"]]

    assert workbook["version"] == "Notebook/1.0"
    assert len(names) == len(set(names))
    assert workbook["fallbackResourceIds"] == ["{app-insights-id}"]
    assert "loadTextContent('../workbook/connector.workbook.json'), '{app-insights-id}'" in module


def test_workbook_covers_every_section_the_issue_asks_for() -> None:
    titles = " ".join(
        item["content"].get("title", "")
        for item in json.loads(WORKBOOK.read_text(encoding="utf-8"))["items"]
    ).lower()

    for topic in ["crawls", "duration", "per crawl", "skipped", "429", "failed", "poison"]:
        assert topic in titles, topic


def test_queries_use_only_contract_metrics_and_use_them_all() -> None:
    metrics, _ = contract()
    used = set().union(*(metric_names_in(query) for query in queries()))

    assert used <= metrics, used - metrics
    assert metrics <= used, metrics - used


def test_queries_read_only_contract_attributes() -> None:
    _, attributes = contract()
    read = {name for query in queries() for name in re.findall(r"customDimensions\.(\w+)", query)}

    assert read
    assert read <= attributes, read - attributes


def test_alert_rules_cover_failed_crawls_missing_incrementals_and_poison() -> None:
    alerts = ALERTS.read_text(encoding="utf-8")

    assert re.search(r'status == "failed"', alerts)
    assert "ago(26h)" in alerts
    assert '== "incremental"' in alerts
    assert "Moving message to queue" in alerts
    assert alerts.count("resource ") - alerts.count("resource actionGroup") == 3
