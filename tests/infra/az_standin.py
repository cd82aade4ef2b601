"""A stand-in for the few Azure CLI calls grant-graph-permissions.sh makes, over a JSON state file.

It answers like `az` would for one tenant: a managed identity, the Microsoft Graph service
principal with its application roles, and the identity's app role assignments. Every call is
recorded in the state file, so a test can see which writes happened. Query strings are matched
by their shape, not evaluated as JMESPath: only the script's own queries are understood.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def _options(args: list[str]) -> dict[str, str]:
    options = {}
    for index, arg in enumerate(args):
        if arg.startswith("--") and index + 1 < len(args):
            options[arg] = args[index + 1]
    return options


def _identity(state: dict[str, Any], options: dict[str, str]) -> str | None:
    return str(state["principal"]) if options.get("--name") == state["identity"] else None


def _service_principal(state: dict[str, Any], options: dict[str, str]) -> str | None:
    query = options.get("--query", "")
    if options.get("--id") != GRAPH_APP_ID:
        return str(state["principal"]) if options.get("--id") == state["app_id"] else None
    if query == "id":
        return str(state["graph_sp"])
    if by_value := re.fullmatch(r"appRoles\[\?value=='([^']+)' && .*\]\.id \| \[0\]", query):
        return str(state["roles"].get(by_value.group(1), ""))
    if by_id := re.fullmatch(r"appRoles\[\?id=='([^']+)'\]\.value \| \[0\]", query):
        names: dict[str, str] = {role_id: name for name, role_id in state["roles"].items()}
        return names.get(by_id.group(1), "")
    return None


def _rest(state: dict[str, Any], options: dict[str, str]) -> str | None:
    owner = re.search(r"/servicePrincipals/([^/]+)/appRoleAssignments$", options["--url"])
    if owner is None or owner.group(1) != state["principal"]:
        return None
    if options["--method"] == "get":
        query = options.get("--query", "")
        resource = re.fullmatch(r"value\[\?resourceId=='([^']+)'\]\.\[id, appRoleId\]", query)
        if resource is None:
            return None
        rows = [a for a in state["assignments"] if a["resourceId"] == resource.group(1)]
        return "\n".join(f"{a['id']}\t{a['appRoleId']}" for a in rows)
    if options["--method"] == "post":
        state["assignments"].append({"id": str(uuid.uuid4()), **json.loads(options["--body"])})
        return ""
    return None


def _answer(state: dict[str, Any], args: list[str]) -> str | None:
    options = _options(args)
    if args[:2] == ["identity", "show"]:
        return _identity(state, options)
    if args[:3] == ["ad", "sp", "show"]:
        return _service_principal(state, options)
    if args[:1] == ["rest"]:
        return _rest(state, options)
    return None


def main() -> int:
    """Answer one `az` call from the state file named by AZ_STANDIN_STATE."""
    path = Path(os.environ["AZ_STANDIN_STATE"])
    state = json.loads(path.read_text(encoding="utf-8"))
    args = sys.argv[1:]
    state["calls"].append(args)
    answer = _answer(state, args)
    path.write_text(json.dumps(state), encoding="utf-8")
    if answer is None:
        sys.stderr.write(f"ERROR: the stand-in does not know: az {' '.join(args)}\n")
        return 3
    if answer:
        sys.stdout.write(answer + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
