"""Offline checks of infra/ that need pycep-parser or PyYAML: run by scripts/iac-check in .venv-iac.

`parse` reads every .bicep file with the pycep-parser on the import path (scripts/iac-check runs
it twice: with checkov's pinned grammar, whose failures checkov would skip silently, and with the
current one). `validate` checks what no Bicep compiler is here to check: module parameters
against the modules' declarations, main.parameters.json against main.bicep, the workbook JSON
and azure.yaml.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[1]
ROOT = INFRA.parent
PLACEHOLDER = "{app-insights-id}"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def _bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@functools.cache
def _parser() -> BicepParser:
    # Building the grammar is most of the cost: one parser for every file.
    return BicepParser()


@functools.cache
def _parse(path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = _parser().parse(file_path=path)
    return parsed


def parse_all() -> list[str]:
    """Parse every .bicep file; one problem per file that fails."""
    version = importlib.metadata.version("pycep-parser")
    problems = []
    files = _bicep_files()
    for path in files:
        try:
            _parse(path)
        except Exception as error:
            first = str(error).strip().splitlines()[0]
            problems.append(f"{path.relative_to(ROOT)}: pycep-parser {version}: {first}")
    if not files:
        problems.append("no .bicep files found under infra/")
    _say(f"pycep-parser {version}: {len(files) - len(problems)}/{len(files)} Bicep files parse")
    return problems


def _unwrap(config: dict[str, Any]) -> dict[str, Any]:
    """The body of a module, whether or not it has a deploy condition or a loop around it."""
    while "params" not in config and isinstance(config.get("config"), dict):
        config = config["config"]
    return config


def _required(parameters: dict[str, Any]) -> set[str]:
    return {name for name, spec in parameters.items() if spec.get("default") is None}


def check_modules() -> list[str]:
    """Each module call passes only declared parameters and every required one."""
    problems = []
    for path in _bicep_files():
        for name, module in _parse(path).get("modules", {}).items():
            target = path.parent / module["detail"]["path"]
            where = f"{path.relative_to(ROOT)}: module {name}"
            if not target.is_file():
                problems.append(f"{where}: {module['detail']['path']} does not exist")
                continue
            declared = _parse(target).get("parameters", {})
            passed = set(_unwrap(module["config"]).get("params", {}))
            problems += [f"{where}: passes undeclared {p}" for p in sorted(passed - set(declared))]
            problems += [
                f"{where}: misses required {p}" for p in sorted(_required(declared) - passed)
            ]
    return problems


def check_parameters_file() -> list[str]:
    """main.parameters.json sets only main.bicep's parameters, and every required one."""
    path = INFRA / "main.parameters.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    values = document.get("parameters")
    if not isinstance(values, dict):
        return [f"{path.name}: has no parameters object"]
    declared = _parse(INFRA / "main.bicep")["parameters"]
    problems = [f"{path.name}: {n} is not a parameter" for n in sorted(set(values) - set(declared))]
    problems += [f"{path.name}: misses {n}" for n in sorted(_required(declared) - set(values))]
    problems += [
        f"{path.name}: {n} has no value"
        for n, entry in sorted(values.items())
        if not isinstance(entry, dict) or not ({"value", "reference"} & set(entry))
    ]
    return problems


def check_workbook() -> list[str]:
    """The workbook is Notebook/1.0 JSON with uniquely named, non-empty items."""
    path = INFRA / "workbook" / "connector.workbook.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    if document.get("version") != "Notebook/1.0":
        problems.append(f"{path.name}: version is not Notebook/1.0")
    if document.get("fallbackResourceIds") != [PLACEHOLDER]:
        problems.append(f"{path.name}: fallbackResourceIds must be [{PLACEHOLDER!r}]")
    names = [item.get("name") for item in document.get("items", [])]
    if len(set(names)) != len(names) or None in names:
        problems.append(f"{path.name}: item names are missing or repeated")
    for item in document.get("items", []):
        content = item.get("content", {})
        if item.get("type") == 3 and not (content.get("query") or "").strip():
            problems.append(f"{path.name}: query item {item.get('name')} has no query")
    return problems


def check_azure_yaml() -> list[str]:
    """azure.yaml provisions infra/main.bicep and deploys Python function apps."""
    document = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not document.get("name"):
        return ["azure.yaml: not a mapping with a name"]
    problems = []
    infra = document.get("infra", {})
    if infra.get("provider") != "bicep":
        problems.append("azure.yaml: infra.provider is not bicep")
    if not (ROOT / infra.get("path", "infra") / f"{infra.get('module', 'main')}.bicep").is_file():
        problems.append("azure.yaml: infra.path/infra.module names no Bicep file")
    services = document.get("services") or {}
    if not services:
        problems.append("azure.yaml: no services")
    for name, service in services.items():
        project = ROOT / service.get("project", ".")
        if (service.get("language"), service.get("host")) != ("python", "function"):
            problems.append(f"azure.yaml: service {name} is not a python function app")
        if not (project / "function_app.py").is_file() or not (project / "host.json").is_file():
            problems.append(f"azure.yaml: service {name}'s project has no function app")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run one check group; print every problem; exit 1 when there is any."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("check", choices=["parse", "validate"])
    check = parser.parse_args(argv).check
    if check == "parse":
        problems = parse_all()
    else:
        problems = check_modules() + check_parameters_file() + check_workbook()
        problems += check_azure_yaml()
        if not problems:
            _say("modules, main.parameters.json, workbook and azure.yaml are consistent")
    for problem in problems:
        _say(f"error: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
