"""A scenario's results: the JSON file, the Markdown table, the machine and package versions."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.targets import Verdict

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "azure-core",
    "azure-data-tables",
    "azure-storage-queue",
    "msgraph-sdk",
    "httpx",
    "requests",
    "matplotlib",
)
COLUMNS = (
    ("crawl", "label"),
    ("badges", "badges"),
    ("people", "people"),
    ("wall s", "wall_s"),
    ("limit/s", "graph_write_limit_per_s"),
    ("bound s", "lower_bound_s"),
    ("efficiency", "efficiency"),
    ("writes", "graph_writes"),
    ("429", "graph_429"),
    ("reads", "graph_reads"),
    ("Credly", "credly_requests"),
    ("table ops", "table_ops"),
    ("queue msgs", "queue_messages"),
    ("RSS MB", "peak_rss_mb"),
    ("CPU s", "cpu_s"),
)


def package_versions() -> dict[str, str]:
    """Versions of Python, the SDKs that shape the figures, and Azurite."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    azurite = REPO_ROOT / "node_modules" / "azurite" / "package.json"
    if azurite.exists():
        versions["azurite"] = json.loads(azurite.read_text(encoding="utf-8"))["version"]
    return versions


def source_revision() -> str:
    """The commit measured, `+changes` when the connector's files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - read-only, any git
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "credly_connector"],  # noqa: S607
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def machine() -> dict[str, Any]:
    """The machine's CPU count, platform and load (other work on it skews the figures)."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def cell(crawl: dict[str, Any], key: str) -> str:
    """One table cell of a crawl."""
    value = crawl["details"]["label"] if key == "label" else crawl[key]
    if isinstance(value, float):
        return f"{value:.2f}" if key == "efficiency" else f"{value:g}"
    return str(value)


def markdown_table(crawls: list[dict[str, Any]]) -> str:
    """The crawls as a Markdown table, one row each."""
    header = "| " + " | ".join(title for title, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    rows = ["| " + " | ".join(cell(c, key) for _, key in COLUMNS) + " |" for c in crawls]
    return "\n".join([header, rule, *rows])


def scenario_document(
    name: str,
    settings: dict[str, Any],
    crawls: list[dict[str, Any]],
    verdicts: list[Verdict],
) -> dict[str, Any]:
    """The JSON document of one scenario."""
    return {
        "scenario": name,
        "cpu_count": os.cpu_count(),
        "machine": machine(),
        "package_versions": package_versions(),
        "revision": source_revision(),
        "settings": settings,
        "crawls": crawls,
        "targets": [v.to_json() for v in verdicts],
    }


def write_document(document: dict[str, Any], out_dir: Path) -> Path:
    """Write `NAME.json` into `out_dir`; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{document['scenario']}.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
