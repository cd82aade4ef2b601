"""The demo: a synthetic organisation crawled into Microsoft 365 profiles, then kept current.

It starts Azurite and both stand-ins, provisions the people connection, runs a dry run and
writes its preview page, runs a full crawl, changes a few things at Credly and in the
directory, runs an incremental crawl and prints what changed on which profile.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from credly_connector.local.crawl import print_summary, run_crawl
from credly_connector.local.progress import Progress
from credly_connector.ops.preview import write_preview_page
from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from devstack.azurite import Azurite
from devstack.connected import CONNECTION_ID, connected_stack
from devstack.synthetic import WorldSpec, build_world
from devstack.synthetic.mutation import Mutation
from devstack.synthetic.mutations import Mutator

Items = dict[str, dict[str, Any]]


def _entries(item: dict[str, Any]) -> dict[str, str]:
    """Badge id -> a label, for every certification and award on an item."""
    found: dict[str, str] = {}
    props = item["properties"]
    for prop, kind in (("certifications", "certification"), ("awards", "award")):
        for value in props.get(prop, []):
            entry = json.loads(value)
            badge_id = entry["webUrl"].rsplit("/", 1)[-1]
            found[badge_id] = f"{entry['displayName']} ({kind}, {entry['issuedDate']})"
    return found


def _upn(item: dict[str, Any]) -> str:
    return str(json.loads(item["properties"]["accountInformation"])["userPrincipalName"])


def profile_changes(before: Items, after: Items) -> list[str]:
    """Lines saying which profile gained or lost which badge, and which items went away."""
    lines: list[str] = []
    for item_id in sorted(set(before) | set(after)):
        old, new = before.get(item_id), after.get(item_id)
        if old == new:
            continue
        if new is None:
            assert old is not None
            lines.append(f"  {_upn(old)}: profile item deleted ({len(_entries(old))} badges)")
            continue
        old_entries = _entries(old) if old else {}
        new_entries = _entries(new)
        header = f"  {_upn(new)}:" + (" new profile item" if old is None else "")
        lines.append(header)
        lines.extend(f"    + {new_entries[b]}" for b in sorted(set(new_entries) - set(old_entries)))
        lines.extend(f"    - {old_entries[b]}" for b in sorted(set(old_entries) - set(new_entries)))
        changed = {
            b for b in set(old_entries) & set(new_entries) if old_entries[b] != new_entries[b]
        }
        lines.extend(f"    ~ {new_entries[b]}" for b in sorted(changed))
    return lines


def _describe(mutation: Mutation) -> str:
    detail = f" ({mutation.detail})" if mutation.detail else ""
    target = ", ".join(mutation.badge_ids) or mutation.user_id or ""
    return f"  {mutation.kind.value}: {target}{detail}"


def run_demo(
    out: TextIO,
    *,
    badges: int = 2000,
    seed: int = 1,
    write_rate: float = 100.0,
    preview_dir: Path | None = None,
) -> int:
    """Run the demo end to end; 0 when every crawl succeeded.

    Args:
        preview_dir: Where the dry run's preview page goes (a new temporary directory if None).
    """
    world = build_world(WorldSpec(seed=seed, badges=badges, now=datetime.now(UTC)))
    out.write(
        f"synthetic organisation: {badges} badges, {len(world.people)} people, "
        f"{len(world.directory)} directory users\n"
    )
    # The stand-in has no write limit by default; pace writes like a generous tenant would.
    env = {"GRAPH_WRITE_RATE": str(write_rate)}
    with (
        Azurite() as azurite,
        connected_stack(world, azurite.connection_string, extra_env=env) as stack,
    ):
        settings = load_settings(stack.env)
        ctx = build_context(settings)
        items: Callable[[], Items] = lambda: stack.graph.state.connectors.items(CONNECTION_ID)  # noqa: E731

        out.write("\n== dry run: a full crawl that writes nothing to Graph ==\n")
        dry = run_crawl(ctx, "full", dry_run=True, progress=Progress())
        print_summary(dry, out)
        target = preview_dir or Path(tempfile.mkdtemp(prefix="credly-preview-"))
        page = write_preview_page(ctx, target, dry.record.crawl_id if dry.record else None)
        if page.status == 200 and isinstance(page.body, dict):
            out.write(f"preview page (open it in a browser): {page.body['path']}\n")
        else:
            out.write(f"no preview page: {page.json()}\n")

        out.write("\n== full crawl ==\n")
        full = run_crawl(ctx, "full", progress=Progress())
        print_summary(full, out)
        before = {k: dict(v) for k, v in items().items()}
        out.write(f"profiles in Graph: {len(before)}\n")

        mutator = Mutator(world, seed=seed)
        changes = [
            mutator.add_badge(state="accepted"),
            mutator.revoke(),
            mutator.make_private(),
            mutator.disable_user(),
        ]
        out.write("\n== changes at Credly and in the directory ==\n")
        out.write("\n".join(_describe(c) for c in changes) + "\n")

        out.write("\n== incremental crawl ==\n")
        incremental = run_crawl(ctx, "incremental", progress=Progress())
        print_summary(incremental, out)
        out.write("\n== what changed on which profile ==\n")
        lines = profile_changes(before, items())
        out.write("\n".join(lines or ["  (nothing: the changes touched no eligible badge)"]) + "\n")
    return 0 if dry.succeeded and full.succeeded and incremental.succeeded else 1
