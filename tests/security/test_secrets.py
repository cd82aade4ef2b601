"""No configured secret leaks: not in logs, telemetry, HTTP answers, tables or queue messages.

One deployment-like run through the bound functions, with distinctive secrets configured: a
Credly organisation token, a second organisation's OAuth client secret, the Graph app's
client secret (over TLS, as azure-identity insists) and a storage account key (a custom
Azurite account). Health before and after, setup, a full crawl of both organisations, the
crawl status, a diagnosis, the badge report and a webhook event; then every log record (all
levels, tracebacks included), stdout and stderr, every span and metric point, every HTTP
answer, every table row and every queue message is searched for each secret and the forms it
travels in (e.g. the token's HTTP Basic encoding).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage

import function_app
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.messages import FINISH, PAGES, PLAN, PROFILES, START
from credly_connector.pipeline.queues import EVENTS, QUEUE_NAMES
from credly_connector.stores.tables import TABLE_NAMES
from devstack.azurite import Azurite
from devstack.credly.server import CredlyStandIn
from devstack.credly.webhook_rules import notification_payload
from devstack.graph.app_registrations import DEFAULT_CLIENT_ID, App
from devstack.graph.server import GraphStandIn
from devstack.standin import Fault, FaultKind, TlsIdentity
from devstack.synthetic import Mutator, World, WorldSpec, build_world
from tests.security.conftest import BASE
from tests.telemetry.conftest import Signals, signals  # noqa: F401 - re-exported fixture

CREDLY_TOKEN = "credly-org-token-7c41e2d9b05a"
CREDLY_CLIENT_SECRET = "credly-client-secret-3f9a0d6b2e81"
GRAPH_CLIENT_SECRET = "graph-client-secret-b27e6c0f4a93"
STORAGE_ACCOUNT = "secretacct"
STORAGE_KEY = base64.b64encode(b"storage-account-key-e5d8a1c79f20-do-not-show").decode()
SECRETS = {
    "Credly token": CREDLY_TOKEN,
    "Credly token as HTTP Basic": base64.b64encode(f"{CREDLY_TOKEN}:".encode()).decode(),
    "Credly client secret": CREDLY_CLIENT_SECRET,
    "Graph client secret": GRAPH_CLIENT_SECRET,
    "storage key": STORAGE_KEY,
    "storage key, decoded": "e5d8a1c79f20",
}
STAGE_FUNCTIONS = {
    START: "crawl_start",
    PAGES: "crawl_pages",
    PLAN: "crawl_plan",
    PROFILES: "crawl_profiles",
    FINISH: "crawl_finish",
    EVENTS: "credly_event",
}


@dataclass
class Run:
    """The deployment-like run: its stand-ins, and everything it answered and queued."""

    world: World
    credly: CredlyStandIn
    graph: GraphStandIn
    functions: dict[str, Any]
    answers: list[tuple[str, func.HttpResponse]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def ctx(self) -> CrawlContext:
        return function_app.context()

    def call(
        self, name: str, method: str, body: Any = None, route: dict[str, str] | None = None
    ) -> func.HttpResponse:
        """Call a bound HTTP function and keep its answer."""
        data = b"" if body is None else json.dumps(body).encode()
        request = func.HttpRequest(
            method, f"{BASE}/{name}", body=data, route_params=route or {}, params={}
        )
        response: func.HttpResponse = self.functions[name].get_user_function()(request)
        self.answers.append((name, response))
        return response

    def drain(self) -> int:
        """Deliver every queued message to its bound function until the queues are empty."""
        delivered = 0
        for _ in range(10_000):
            moved = False
            for stage, name in STAGE_FUNCTIONS.items():
                queue = self.ctx.queues.client(stage)
                for message in queue.receive_messages(messages_per_page=32):
                    self.messages.append(str(message.content))
                    body = str(message.content).encode()
                    self.functions[name].get_user_function()(
                        QueueMessage(id=message.id, body=body, dequeue_count=1)  # type: ignore[no-untyped-call]
                    )
                    queue.delete_message(message)
                    delivered += 1
                    moved = True
            if not moved:
                return delivered
        raise AssertionError("the queues never drained")


def _custom_azurite(patch: pytest.MonkeyPatch, stacks: ExitStack) -> str:
    """A fresh Azurite with one account of our own key; its connection string."""
    patch.setenv("AZURITE_ACCOUNTS", f"{STORAGE_ACCOUNT}:{STORAGE_KEY}")
    azurite = stacks.enter_context(Azurite())
    ports = azurite.endpoints.ports
    parts = ["DefaultEndpointsProtocol=http", f"AccountName={STORAGE_ACCOUNT}"]
    parts.append(f"AccountKey={STORAGE_KEY}")
    parts += [
        f"{kind.capitalize()}Endpoint=http://127.0.0.1:{ports[kind]}/{STORAGE_ACCOUNT}"
        for kind in ("blob", "queue", "table")
    ]
    return ";".join(parts) + ";"


def _settings(world: World, credly: CredlyStandIn, graph: GraphStandIn, ca: Path) -> dict[str, str]:
    """The first organisation on its token, the second on its OAuth client; Graph by secret."""
    first, second = world.org_ids
    world.credly.orgs[first].tokens[0].token = CREDLY_TOKEN
    app = world.credly.orgs[second].oauth_apps[0]
    app.client_secret = CREDLY_CLIENT_SECRET
    organizations = [
        {"id": first, "authTokenSetting": "CREDLY_TOKEN_1"},
        {
            "id": second,
            "clientIdSetting": "CREDLY_CLIENT_ID_2",
            "clientSecretSetting": "CREDLY_CLIENT_SECRET_2",
        },
    ]
    return {
        "CREDLY_ORGANIZATIONS": json.dumps(organizations),
        "CREDLY_TOKEN_1": CREDLY_TOKEN,
        "CREDLY_CLIENT_ID_2": app.client_id,
        "CREDLY_CLIENT_SECRET_2": CREDLY_CLIENT_SECRET,
        "CREDLY_API_URL": credly.api_url,
        "CREDLY_WEB_URL": credly.web_url,
        "GRAPH_API_URL": graph.graph_url,
        "GRAPH_CONNECTION_ID": "credlybadges",
        "AZURE_TENANT_ID": graph.tenant_id,
        "AZURE_CLIENT_ID": DEFAULT_CLIENT_ID,
        "AZURE_CLIENT_SECRET": GRAPH_CLIENT_SECRET,
        "GRAPH_CA_FILE": str(ca),
    }


@pytest.fixture
def deployment(
    indexed_functions: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Run]:
    """Both stand-ins (Graph over TLS), a custom-key Azurite, the settings in the environment."""
    world = build_world(WorldSpec(seed=31, badges=60, organisations=2, now=datetime.now(UTC)))
    tls = TlsIdentity.self_signed(tmp_path / "tls")
    with ExitStack() as stacks:
        storage = _custom_azurite(monkeypatch, stacks)
        credly = stacks.enter_context(CredlyStandIn(world.credly))
        graph = stacks.enter_context(
            GraphStandIn(
                world.directory,
                tenant_id=world.tenant_id,
                tls=tls,
                apps=[App(client_secret=GRAPH_CLIENT_SECRET)],
                schema_delay_s=0,
            )
        )
        env = {**_settings(world, credly, graph, tls.ca_file), "AzureWebJobsStorage": storage}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("STORAGE_PREFIX", raising=False)
        monkeypatch.delenv("GRAPH_ACCESS_TOKEN", raising=False)
        monkeypatch.delenv("CREDLY_ORGANIZATION_ID", raising=False)
        monkeypatch.setattr(function_app, "_context", None)
        yield Run(world, credly, graph, indexed_functions)


def _operate(run: Run) -> None:
    """Health, setup, a full crawl of both organisations, reads, a webhook event, health."""
    assert run.call("ops_health", "GET").status_code == 503  # nothing set up yet
    assert run.call("ops_setup", "POST", {"waitSeconds": 10}).status_code == 200
    started = run.call("ops_crawls_start", "POST", {"kind": "full"})
    assert started.status_code == 202, started.get_body()
    assert run.drain() > 4
    for crawl in json.loads(started.get_body())["crawls"]:
        status = run.call("ops_crawls_status", "GET", route={"crawl_id": crawl["id"]})
        assert json.loads(status.get_body())["status"] == "succeeded"
    run.call("ops_crawls_list", "GET")
    assert run.call("ops_health", "GET").status_code == 200
    email = next(p.credly_email for p in run.world.people if p.directory_user_id and p.badge_ids)
    assert run.call("ops_people_diagnose", "GET", route={"email": email}).status_code == 200
    assert run.call("ops_reports_badges", "GET").status_code == 200
    run.call("ops_identity_overrides_list", "GET")
    mutation = Mutator(run.world, seed=3).accept_pending()
    event = run.world.credly.events[mutation.event_ids[-1]]
    assert run.call("credly_events", "POST", notification_payload(event)).status_code == 200
    assert run.drain() == 1
    # A failure path too: Credly refuses both organisations' credentials from now on.
    run.credly.api.knobs.add_fault(
        Fault(FaultKind.STATUS, route_class="badges", status=401, times=None)
    )
    refused = run.call("ops_crawls_start", "POST", {"kind": "incremental"})
    assert refused.status_code == 202, refused.get_body()
    run.drain()
    for crawl in json.loads(refused.get_body())["crawls"]:
        status = run.call("ops_crawls_status", "GET", route={"crawl_id": crawl["id"]})
        assert json.loads(status.get_body())["status"] == "failed"


def _span_texts(signals: Signals) -> list[str]:  # noqa: F811
    texts = [span.to_json() for span in signals.spans()]
    texts += [f"{p.name} {p.attributes}" for p in signals.points()]
    return texts


def _log_texts(records: list[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return [f"{formatter.format(r)} {r.__dict__}" for r in records]


def _storage_texts(ctx: CrawlContext) -> list[str]:
    texts = [repr(dict(e)) for role in TABLE_NAMES for e in ctx.tables.table(role).list_entities()]
    for stage in QUEUE_NAMES:
        for poison in (False, True):
            queue = ctx.queues.client(stage, poison=poison)
            texts += [str(m.content) for m in queue.peek_messages(max_messages=32)]
    return texts


def _leaks(places: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(secret, place) for every secret form found in a place."""
    return [
        (secret, place)
        for secret, value in SECRETS.items()
        for place, texts in places.items()
        if any(value in text for text in texts)
    ]


def test_no_secret_appears_in_logs_telemetry_answers_tables_or_messages(
    deployment: Run,
    signals: Signals,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="credly_connector")

    _operate(deployment)

    out, err = capfd.readouterr()
    places: dict[str, list[str]] = {
        "logs": _log_texts(caplog.records),
        "stdout and stderr": [out, err],
        "telemetry": _span_texts(signals),
        "HTTP answers": [
            f"{name} {dict(r.headers)} {r.get_body().decode('utf-8', 'replace')}"
            for name, r in deployment.answers
        ],
        "queue messages": deployment.messages,
        "tables and queues": _storage_texts(deployment.ctx),
    }
    # The secrets were in use, and every place holds what it should (the search can find).
    assert deployment.credly.web.requests.count("oauth", "POST", 200) >= 1
    assert deployment.graph.server.requests.count("identity", "POST", 200) >= 1
    assert deployment.credly.api.requests.count("badges", "GET", 200) >= 2
    org = deployment.world.org_ids[1]
    for place in ("logs", "telemetry", "HTTP answers", "queue messages", "tables and queues"):
        assert any(org in text for text in places[place]), place
    assert _leaks(places) == []
