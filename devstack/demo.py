"""The demo: the connector run as an administrator runs the deployed app, on the local stack.

It starts Azurite and both stand-ins over a synthetic organisation, starts the connector's
Functions host (`devstack.host`: HTTP routes, queue triggers, timers, as Azure runs them),
then does everything over HTTP with a function key: setup, a dry run, a full crawl, a badge
accepted at Credly arriving by webhook within seconds, more changes at Credly and in the
directory, an incremental crawl; and tells what each change did to whose profile.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from azure.storage.queue import QueueServiceClient

from credly_connector.ops.preview import write_preview_page
from credly_connector.pipeline.queues import EVENTS, QUEUE_NAMES
from credly_connector.runtime import build_context
from credly_connector.settings import load_settings
from devstack.connected import CONNECTION_ID
from devstack.envfile import EnvFileError, write_env_file
from devstack.host import FunctionsHost
from devstack.localstack import (
    EVENTS_ROUTE,
    HostAddress,
    LocalStack,
    ca_file_beside,
    local_stack,
)
from devstack.narration import (
    Items,
    account_for,
    badge_words,
    describe_mutation,
    entries,
    profile_changes,
    upn_of,
)
from devstack.ops_client import OpsClient
from devstack.signals import wait_for_interrupt
from devstack.synthetic import World, WorldSpec, build_world
from devstack.synthetic.mutations import Mutator
from devstack.world_control import showcase_person

WEBHOOK_WAIT_S = 30.0
WRITE_RATE = 100.0
"""Graph writes per second the connector allows itself in the demo."""


@dataclass
class DemoRun:
    """What the demo is running on: the stack, the host, and an operations client."""

    world: World
    stack: LocalStack
    host: FunctionsHost
    ops: OpsClient
    out: TextIO

    def items(self) -> Items:
        """The people connection's items in the Graph stand-in, now."""
        return {
            k: dict(v) for k, v in self.stack.graph.state.connectors.items(CONNECTION_ID).items()
        }

    def say(self, text: str = "") -> None:
        """Print a line of the story."""
        self.out.write(text + "\n")
        self.out.flush()


def crawl_summary(record: dict[str, Any]) -> str:
    """A crawl's status answer as a few lines (what `crawl` prints at the end)."""
    counts = record.get("counts") or {}
    created = _when(record.get("createdAt"))
    finished = _when(record.get("finishedAt"))
    took = (finished - created).total_seconds() if created and finished else 0.0
    lines = [
        f"  crawl {record['id']} ({record['kind']}{', dry run' if record.get('dryRun') else ''})"
        f": {record['status']} in {took:.1f} s",
        f"  pages {record.get('totalPages') or 0}, badges seen {counts.get('badges_seen', 0)},"
        f" changed {counts.get('badges_changed', 0)}",
        f"  people {'that would be ' if record.get('dryRun') else ''}written"
        f" {counts.get('people_written', 0)},"
        f" deleted {counts.get('people_deleted', 0)},"
        f" unchanged {counts.get('people_unchanged', 0)}",
    ]
    skipped = counts.get("skipped") or {}
    if skipped:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items()))
        lines.append(f"  badges not shown: {reasons}")
    failure = record.get("failure")
    if failure:
        lines.append(f"  failed in {failure.get('stage')}: {failure.get('message')}")
    return "\n".join(lines)


def _when(text: object) -> datetime | None:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None


def run_crawl_over_http(run: DemoRun, kind: str, *, dry_run: bool = False) -> dict[str, Any]:
    """`POST /api/ops/crawls`, then follow `GET /api/ops/crawls/{id}` until it ends."""
    started = run.ops.start_crawl(kind, dry_run=dry_run)
    run.say(f"  202 Accepted: crawl {started['id']}, status {started['statusUrl']}")
    shown: list[str] = []

    def show_phase(record: dict[str, Any]) -> None:
        phase = str(record.get("phase"))
        if shown and shown[-1] == phase:
            return
        shown.append(phase)
        extra = ""
        if phase == "pages" and record.get("totalPages"):
            extra = f" ({record['totalPages']} pages)"
        elif phase == "profiles" and record.get("totalBatches"):
            extra = f" ({record['totalBatches']} batches)"
        run.say(f"  ... {record.get('status')}, phase {phase}{extra}")

    record = run.ops.wait_crawl(str(started["id"]), on_poll=show_phase, interval_s=0.25)
    run.say(crawl_summary(record))
    return record


def events_queue_empty(connection_string: str) -> Callable[[], bool]:
    """Whether every webhook event the host queued has been handled (none left, even invisible)."""
    service = QueueServiceClient.from_connection_string(connection_string)
    queue = service.get_queue_client(QUEUE_NAMES[EVENTS])
    return lambda: queue.get_queue_properties().approximate_message_count == 0


def wait_for(condition: Callable[[], bool], timeout_s: float) -> float | None:
    """Seconds until `condition` held, or None after `timeout_s`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def run_demo(
    out: TextIO,
    *,
    badges: int = 2000,
    seed: int = 1,
    instances: int = 1,
    preview_dir: Path | None = None,
    serve: bool = False,
    env_file: Path | None = None,
) -> int:
    """Run the demo end to end; 0 when every crawl succeeded and the webhook arrived.

    Args:
        out: Where the story is told.
        badges: The synthetic organisation's size.
        seed: Seeds the organisation and its changes.
        instances: Host instances (as Flex Consumption scales out).
        preview_dir: Where the dry run's preview page goes (a new temporary directory if None).
        serve: Keep the stack and the host running until Ctrl-C at the end.
        env_file: Where `--serve` writes the settings of the running stack.
    """
    world = build_world(WorldSpec(seed=seed, badges=badges, now=datetime.now(UTC)))
    with ExitStack() as stacks:
        scratch = Path(stacks.enter_context(tempfile.TemporaryDirectory(prefix="credly-demo-")))
        env_path = (env_file or Path(".env.local")) if serve else scratch / "demo.env"
        address = HostAddress.choose(0, None)
        # Graph over TLS with a throwaway CA, setup left to the connector's own route below.
        stack = stacks.enter_context(
            local_stack(world, ca_file=ca_file_beside(env_path), host=address, setup=False)
        )
        # The stand-in has no write limit by default; pace writes like a generous tenant would.
        stack.env["GRAPH_WRITE_RATE"] = str(WRITE_RATE)
        out.write(
            f"synthetic organisation: {badges} badges, {len(world.people)} people, "
            f"{len(world.directory)} directory users\n"
            f"local stack: Azurite, Credly at {stack.env['CREDLY_API_URL']}, Graph at "
            f"{stack.env['GRAPH_API_URL']}\n"
        )
        host = stacks.enter_context(
            FunctionsHost(stack.env, instances=instances, key=address.key, port=address.port)
        )
        run = DemoRun(world, stack, host, OpsClient(host.base_url, address.key), out)
        run.say(
            f"functions host: {host.base_url}/api ({instances} instance(s),"
            f" key {address.key[:6]}...)"
        )
        ok = _story(run, stack.env["AzureWebJobsStorage"], preview_dir)
        if serve:
            _serve(run, env_path)
        else:
            _try_next(run.out)
    return 0 if ok else 1


def _story(run: DemoRun, connection_string: str, preview_dir: Path | None) -> bool:
    run.say("\n== setup: POST /api/ops/setup ==")
    answer = run.ops.setup()
    for step in answer.get("steps", []):
        run.say(f"  {step.get('name', '?'):<16} {step.get('state', '?')}")

    run.say('\n== dry run: POST /api/ops/crawls {"kind": "full", "dryRun": true} ==')
    dry = run_crawl_over_http(run, "full", dry_run=True)
    ctx = build_context(load_settings(run.stack.env))
    target = preview_dir or Path(tempfile.mkdtemp(prefix="credly-preview-"))
    page = write_preview_page(ctx, target, str(dry["id"]))
    if page.status == 200 and isinstance(page.body, dict):
        run.say(f"  preview page (open it in a browser): {page.body['path']}")

    run.say('\n== full crawl: POST /api/ops/crawls {"kind": "full"} ==')
    full = run_crawl_over_http(run, "full")
    before = run.items()
    run.say(f"  profiles in Graph: {len(before)}")

    webhook_ok = _webhook(run, connection_string)
    after_webhooks = run.items()

    mutator = Mutator(run.world, seed=run.world.spec.seed + 100)
    delivered_before = run.stack.credly.webhooks.counters.delivered
    badge_changes = [mutator.revoke(), mutator.make_private()]
    names = {b: badge_words(run.world, b) for m in badge_changes for b in m.badge_ids}
    run.say("\n== changes at Credly (sent by webhook) ==")
    for change in badge_changes:
        run.say(f"  {describe_mutation(run.world, change, names)}")
    sent = sum(len(change.event_ids) for change in badge_changes) + delivered_before
    drained = events_queue_empty(connection_string)
    settled = wait_for(
        lambda: run.stack.credly.webhooks.counters.delivered >= sent and drained(),
        WEBHOOK_WAIT_S,
    )
    run.say(
        f"  webhooks handled in {settled:.1f} s"
        if settled is not None
        else "  webhooks not all handled in time"
    )
    by_webhook = run.items()
    user_change = mutator.disable_user()
    run.say("\n== a change in the directory (no webhook: the incremental crawl finds it) ==")
    run.say(f"  {describe_mutation(run.world, user_change, names)}")

    run.say('\n== incremental crawl: POST /api/ops/crawls {"kind": "incremental"} ==')
    incremental = run_crawl_over_http(run, "incremental")
    after = run.items()

    run.say("\n== what each change did ==")
    # The badge changes went by webhook (or, if one was missed, by the incremental crawl).
    for change, since in (*((c, after_webhooks) for c in badge_changes), (user_change, by_webhook)):
        effect = account_for(run.world, change, (since, after), run.ops.diagnose, names)
        run.say(f"  {describe_mutation(run.world, change, names)}:")
        run.say(f"    {effect}")

    run.say("\n== what changed on which profile since the full crawl ==")
    lines = profile_changes(before, after)
    run.say("\n".join(lines or ["  (nothing: the changes touched no eligible badge)"]))
    return all(r["status"] == "succeeded" for r in (dry, full, incremental)) and webhook_ok


def _webhook(run: DemoRun, connection_string: str) -> bool:
    run.say("\n== a badge accepted at Credly, delivered by webhook ==")
    run.say(f"  Credly's webhook URL: {run.host.base_url}/api/{EVENTS_ROUTE}?code=<key>")
    person = showcase_person(run.world)
    mutation = Mutator(run.world, seed=run.world.spec.seed).add_badge(person, state="accepted")
    names = {b: badge_words(run.world, b) for b in mutation.badge_ids}
    badge_id = mutation.badge_ids[-1]
    run.say(f"  {describe_mutation(run.world, mutation, names)}")

    def on_profile() -> bool:
        return any(badge_id in entries(item) for item in run.items().values())

    took = wait_for(on_profile, WEBHOOK_WAIT_S)
    if took is None:
        run.say(f"  not on a profile after {WEBHOOK_WAIT_S:.0f} s")
        return False
    item = next(i for i in run.items().values() if badge_id in entries(i))
    run.say(
        f"  on {upn_of(item)}'s profile {took:.1f} s later, with no crawl running"
        f" ({entries(item)[badge_id]})"
    )
    wait_for(events_queue_empty(connection_string), WEBHOOK_WAIT_S)
    return True


def _serve(run: DemoRun, path: Path) -> None:
    try:
        write_env_file(path, run.stack.env)
    except (EnvFileError, OSError) as error:
        run.say(f"\ncannot write the settings to {path}: {error} (use --env-file PATH)")
        return
    base, key = f"{run.host.base_url}/api", run.host.key
    run.say("\n== serving until Ctrl-C: the stack and the host keep running ==")
    run.say(f"  settings of this stack: {path} (load them: set -a; . {path}; set +a)")
    run.say(f"  functions host: {base}, function key {key}")
    run.say(f"  curl -X POST '{base}/ops/crawls?code={key}' -d '{{\"kind\":\"incremental\"}}'")
    run.say(f"  curl '{base}/ops/crawls?code={key}'")
    run.say(f"  curl '{base}/ops/health?code={key}'")
    run.say(f"  set -a; . {path}; set +a; python -m credly_connector crawls")
    wait_for_interrupt()


def _try_next(out: TextIO) -> None:
    out.write(
        "\n== try next ==\n"
        "  ./scripts/run --serve     this demo, then the stack and host keep running\n"
        "  or by hand, as in the README (Run the app locally):\n"
        "    .venv/bin/python -m devstack stack --env-file .env.local   (terminal 1, sets up)\n"
        "    set -a; . ./.env.local; set +a; .venv/bin/python -m devstack host --key KEY\n"
        "    curl -X POST 'http://127.0.0.1:7071/api/ops/crawls?code=KEY'"
        ' -d \'{"kind":"full"}\'\n'
        "  routes: ops/setup, ops/health, ops/crawls[/{id}[/retry|/cancel|/preview]],\n"
        "          ops/people/{email}, ops/identity-overrides[/{email}], ops/reports/badges.csv,\n"
        "          credly/events (Credly's webhook)\n"
    )
