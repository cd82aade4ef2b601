"""Reading facts out of infra/*.bicep as text: the main venv has no Bicep parser (scripts/iac-check
parses them with pycep in its own venv), so these readers rely on the files' deliberate layout."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
FUNCTION_APP = INFRA / "modules" / "functionapp.bicep"
SETTINGS_BEGIN = "// --- app settings: begin"
SETTINGS_END = "// --- app settings: end"
# A setting name literal, optionally ending in the organisation number `${i + 1}`.
_SETTING_LITERAL = re.compile(r"'([A-Z][A-Za-z0-9_]*?)(\$\{i \+ 1\})?'")
_COMMENT = re.compile(r"(^|\s)//.*$", re.MULTILINE)
DYNAMIC = "<n>"


def code_of(path: Path) -> str:
    """The Bicep file's text without `//` comments (URLs such as https://... are kept)."""
    return _COMMENT.sub(r"\1", path.read_text(encoding="utf-8"))


def settings_block() -> str:
    """The app-settings section of functionapp.bicep, comments removed."""
    text = FUNCTION_APP.read_text(encoding="utf-8")
    start, end = text.index(SETTINGS_BEGIN), text.index(SETTINGS_END)
    return _COMMENT.sub(r"\1", text[start:end])


def _names_on(lines_starting: str, block: str) -> set[str]:
    found: set[str] = set()
    for line in block.splitlines():
        stripped = line.strip().lstrip("{").strip()
        if stripped.startswith(f"{lines_starting}:"):
            expression = stripped.split(", value:")[0]
            for literal, number in _SETTING_LITERAL.findall(expression):
                found.add(literal + (DYNAMIC if number else ""))
    return found


def app_setting_names() -> set[str]:
    """Every app-setting name the Bicep can set; per-organisation names end in `<n>`."""
    return _names_on("name", settings_block())


def organization_setting_names() -> set[str]:
    """The setting names CREDLY_ORGANIZATIONS points each organisation's credentials at."""
    block = settings_block()
    names: set[str] = set()
    for key in ("authTokenSetting", "clientIdSetting", "clientSecretSetting"):
        names |= _names_on(key, block)
    return names


def setting_lines(name: str) -> list[str]:
    """The lines of the settings block that name `name` (a literal, `<n>` for the number)."""
    literal = "'" + name.replace(DYNAMIC, "${i + 1}") + "'"
    lines = settings_block().splitlines()
    found = []
    for number, line in enumerate(lines):
        if literal in line and line.strip().lstrip("{").strip().startswith("name:"):
            # A multi-line entry keeps its value on the next line.
            found.append(line if "value:" in line else f"{line} {lines[number + 1]}")
    return found


def string_list(path: Path, variable: str) -> list[str]:
    """The literal strings of `var <variable> = [ ... ]`, one per line, in order."""
    text = code_of(path)
    match = re.search(rf"^var {variable} = \[\n(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    if match is None:
        msg = f"no `var {variable} = [` list in {path.name}"
        raise AssertionError(msg)
    return re.findall(r"^\s*'([^']*)'\s*$", match.group(1), re.MULTILINE)
