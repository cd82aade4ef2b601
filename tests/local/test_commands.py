"""The crawl-keeping commands in-process: --no-resume, status, crawls, cancel, resume."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from credly_connector.__main__ import main
from credly_connector.pipeline.launch import request_crawl
from credly_connector.stores.crawls import CrawlRecord, new_crawl_id
from tests.pipeline.conftest import Pipeline, make_pipeline  # noqa: F401

FAST = {"GRAPH_WRITE_RATE": "1000"}


def lines_of(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_an_unfinished_crawl_is_refused_shown_cancelled_and_resumed(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a crawl requested (say over HTTP) that nothing has processed: it holds the lease.
    pipeline = make_pipeline(badges=60, seed=71, env=dict(FAST))
    for name, value in {**pipeline.stack.env, **FAST}.items():
        monkeypatch.setenv(name, value)
    ctx, org = pipeline.ctx, pipeline.stack.organization_id
    ctx.tables.ensure()
    ctx.queues.ensure()
    waiting = request_crawl(ctx, "full", "http").crawl
    assert waiting is not None
    first = waiting.crawl_id

    # `crawl --no-resume` refuses, naming it and both ways on.
    assert main(["crawl", "--quiet", "--no-resume"]) == 1
    out = capsys.readouterr().out
    assert f"not started: crawl {first} of this organisation is running" in out
    assert "without --no-resume to continue it here" in out
    assert f'"python -m credly_connector cancel {first}"' in out

    # `status` prints its fields as text (JSON with --json).
    assert main(["status", first]) == 0
    shown = lines_of(capsys.readouterr().out)
    assert shown[0] == f"crawl {first} (full)"
    assert f"  organisation  {org}" in shown
    assert "  status        queued (phase start)" in shown
    assert "  trigger       http" in shown
    assert any(line.startswith("  next:") and f"cancel {first}" in line for line in shown)
    assert main(["status", first, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "queued"

    # `cancel` ends it and frees the organisation; a second cancel is refused.
    assert main(["cancel", first]) == 0
    out = capsys.readouterr().out
    assert f"crawl {first} cancelled (it was in phase start); organisation {org} is free" in out
    assert main(["cancel", first]) == 1
    refused = capsys.readouterr().err
    assert refused.startswith("error: Crawl ")
    assert "already ended (cancelled)" in refused
    assert refused.count("\n") == 1

    # A new crawl starts at once and runs here.
    assert main(["crawl", "--quiet", "--kind", "full"]) == 0
    out = capsys.readouterr().out
    assert "resuming" not in out
    second = ctx.crawls.latest(1)[0]
    assert second.crawl_id != first
    assert f"crawl {second.crawl_id} (full): succeeded" in out

    # A crawl requested elsewhere and left queued is resumed by `crawl`.
    third = request_crawl(ctx, "incremental", "timer").crawl
    assert third is not None
    # With --json, standard output is only the crawl's record; the words go to stderr.
    assert main(["crawl", "--quiet", "--kind", "full", "--json"]) == 0
    printed = capsys.readouterr()
    [shown_crawl] = json.loads(printed.out)["value"]
    assert (shown_crawl["id"], shown_crawl["status"]) == (third.crawl_id, "succeeded")
    assert f"resuming crawl {third.crawl_id} (incremental, start)" in printed.err
    assert f"crawl {third.crawl_id} (incremental): succeeded" in printed.err
    assert pipeline.stored() == pipeline.expected()

    # `crawls` lists them newest first as a table.
    assert main(["crawls", "--limit", "5"]) == 0
    table = lines_of(capsys.readouterr().out)
    assert table[0].split() == [
        "id", "kind", "trigger", "status", "phase", "started", "duration", "pages", "people",
    ]  # fmt: skip
    rows = [line.split() for line in table[1:]]
    assert [row[0] for row in rows] == [third.crawl_id, second.crawl_id, first]
    assert rows[0][1:5] == ["incremental", "timer", "succeeded", "done"]
    assert rows[1][1:5] == ["full", "cli", "succeeded", "done"]
    assert rows[2][1:5] == ["full", "http", "cancelled", "start"]
    written = second.counts["people_written"]
    assert rows[1][-2:] == [str(second.total_pages), str(written)]
    assert rows[2][-2:] == ["-", "-"]  # it never started: no pages, no counts
    assert main(["crawls", "--json", "--limit", "1"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)["value"]] == [third.crawl_id]


def test_a_lease_left_by_an_ended_crawl_does_not_refuse_the_next(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a crawl that ended but whose lease was never released (a crash in between),
    pipeline = make_pipeline(badges=20, seed=72, env=dict(FAST))
    for name, value in {**pipeline.stack.env, **FAST}.items():
        monkeypatch.setenv(name, value)
    done = pipeline.crawl("full")
    assert done.record is not None
    ctx, org = pipeline.ctx, pipeline.stack.organization_id
    assert ctx.leases.acquire(org, done.record.crawl_id, ctx.clock(), ctx.options.lease).acquired
    capsys.readouterr()

    # when `crawl` runs, it starts a new crawl instead of refusing.
    assert main(["crawl", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "not started" not in out
    assert ctx.crawls.latest(1)[0].crawl_id != done.record.crawl_id
    assert ctx.leases.current(org) is None


def test_a_queued_crawl_whose_start_message_was_lost_is_restarted_by_the_resume(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a crawl recorded (and holding the lease) five minutes ago whose start message
    # was never sent (a crash in between),
    pipeline = make_pipeline(badges=20, seed=73, env=dict(FAST))
    for name, value in {**pipeline.stack.env, **FAST}.items():
        monkeypatch.setenv(name, value)
    ctx, org = pipeline.ctx, pipeline.stack.organization_id
    ctx.tables.ensure()
    ctx.queues.ensure()
    created = ctx.clock() - timedelta(minutes=5)
    crawl_id = new_crawl_id(created)
    ctx.crawls.create(CrawlRecord(crawl_id, org, "full", "http", created))
    assert ctx.leases.acquire(org, crawl_id, ctx.clock(), ctx.options.lease).acquired

    # when `crawl` runs, it resumes that crawl, sends its start again and runs it to its end.
    assert main(["crawl", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"resuming crawl {crawl_id} (full, start)" in out
    assert f"crawl {crawl_id} (full): succeeded" in out
    assert pipeline.stored() == pipeline.expected()
