"""grant-graph-permissions.sh: exactly four permissions, idempotent grants, a dry run that writes
nothing; driven through a stand-in `az` (tests/infra/az_standin.py) on PATH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep_text import INFRA

SCRIPT = INFRA / "scripts" / "grant-graph-permissions.sh"
STANDIN = Path(__file__).with_name("az_standin.py")
BASH = shutil.which("bash") or "/bin/bash"
PERMISSIONS = [
    "ExternalConnection.ReadWrite.OwnedBy",
    "ExternalItem.ReadWrite.OwnedBy",
    "PeopleSettings.ReadWrite.All",
    "User.Read.All",
]
PRINCIPAL = "11111111-1111-4111-8111-111111111111"
GRAPH_SP = "22222222-2222-4222-8222-222222222222"
# The stand-in Graph's application roles; the script looks the real ids up by name at run time.
ROLES = {
    name: f"aaaaaaaa-0000-4000-8000-{number:012d}"
    for number, name in enumerate([*PERMISSIONS, "Sites.Read.All"], start=1)
}


class Tenant:
    """The stand-in's state: one identity, Graph's roles, the identity's role assignments."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.state_file = directory / "az-state.json"
        self.bin = directory / "bin"
        self.bin.mkdir()
        shim = self.bin / "az"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
        self.save(
            {
                "identity": "id-credly",
                "app_id": "33333333-3333-4333-8333-333333333333",
                "principal": PRINCIPAL,
                "graph_sp": GRAPH_SP,
                "roles": ROLES,
                "assignments": [],
                "calls": [],
            }
        )

    def load(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        return state

    def save(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state), encoding="utf-8")

    def hold(self, permission: str) -> None:
        state = self.load()
        state["assignments"].append(
            {"id": f"assignment-{permission}", "principalId": PRINCIPAL, "resourceId": GRAPH_SP}
            | {"appRoleId": ROLES[permission]}
        )
        self.save(state)

    def held(self) -> list[str]:
        names = {role_id: name for name, role_id in ROLES.items()}
        return sorted(names[a["appRoleId"]] for a in self.load()["assignments"])

    def writes(self) -> list[list[str]]:
        return [call for call in self.load()["calls"] if "post" in call or "delete" in call]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "AZ_STANDIN_STATE": str(self.state_file),
        }
        return subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [BASH, str(SCRIPT), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )


@pytest.fixture
def tenant(tmp_path: Path) -> Tenant:
    return Tenant(tmp_path)


def test_script_is_valid_bash() -> None:
    for script in [SCRIPT, INFRA.parent / "scripts" / "iac-check"]:
        checked = subprocess.run([BASH, "-n", str(script)], capture_output=True, check=False)  # noqa: S603

        assert checked.returncode == 0, checked.stderr


def test_prints_exactly_the_four_permissions_without_calling_az(tenant: Tenant) -> None:
    result = tenant.run("--print-permissions")

    assert result.returncode == 0
    assert result.stdout.split() == PERMISSIONS
    assert tenant.load()["calls"] == []


def test_grants_every_missing_permission_to_the_identity(tenant: Tenant) -> None:
    result = tenant.run("--identity", "id-credly", "--resource-group", "rg")

    assert result.returncode == 0, result.stderr
    assert tenant.held() == sorted(PERMISSIONS)
    assert result.stdout.count("granted  ") == 4
    posted = [json.loads(call[call.index("--body") + 1]) for call in tenant.writes()]
    assert {p["principalId"] for p in posted} == {PRINCIPAL}
    assert {p["resourceId"] for p in posted} == {GRAPH_SP}


def test_second_run_changes_nothing(tenant: Tenant) -> None:
    tenant.run("--principal-id", PRINCIPAL)
    writes_before = len(tenant.writes())

    again = tenant.run("--principal-id", PRINCIPAL)

    assert again.returncode == 0, again.stderr
    assert len(tenant.writes()) == writes_before
    assert again.stdout.count("(already granted)") == 4
    assert tenant.held() == sorted(PERMISSIONS)


def test_grants_only_what_is_missing(tenant: Tenant) -> None:
    tenant.hold("User.Read.All")

    result = tenant.run("--principal-id", PRINCIPAL)

    assert result.returncode == 0, result.stderr
    assert len(tenant.writes()) == 3
    assert "ok       User.Read.All (already granted)" in result.stdout


def test_dry_run_writes_nothing_and_says_what_it_would_grant(tenant: Tenant) -> None:
    tenant.hold("User.Read.All")

    result = tenant.run("--principal-id", PRINCIPAL, "--dry-run")

    assert result.returncode == 0, result.stderr
    assert tenant.writes() == []
    assert result.stdout.count("would grant ") == 3
    assert "dry run: nothing was changed" in result.stdout


def test_reports_an_extra_graph_permission_without_removing_it(tenant: Tenant) -> None:
    tenant.hold("Sites.Read.All")

    result = tenant.run("--principal-id", PRINCIPAL)

    assert "extra    Sites.Read.All: not needed" in result.stdout
    assert "appRoleAssignments/assignment-Sites.Read.All" in result.stdout
    assert "Sites.Read.All" in tenant.held()
    assert not [call for call in tenant.writes() if "delete" in call]


def test_app_registration_is_resolved_to_its_service_principal(tenant: Tenant) -> None:
    result = tenant.run("--app-id", "33333333-3333-4333-8333-333333333333", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("would grant ") == 4


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--principal-id", PRINCIPAL, "--app-id", "x"],
        ["--identity", "id-credly"],
        ["--bogus"],
    ],
)
def test_rejects_ambiguous_or_incomplete_arguments_before_calling_az(
    tenant: Tenant, args: list[str]
) -> None:
    result = tenant.run(*args)

    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert tenant.load()["calls"] == []
