"""`crawl` interrupted by Ctrl-C or killed, then run again: it resumes and ends exact.

Each test runs `python -m credly_connector crawl` as a process of its own against the stack
of tests/pipeline, with the Credly stand-in slowed so the crawl is caught mid-way, stops it
(SIGINT or SIGKILL, by its pid), and runs `crawl` again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credly_connector.stores.crawls import CrawlRecord, CrawlStatus
from tests.pipeline.conftest import Pipeline, make_pipeline  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
# Each Credly badge-page answer takes this long, so the crawl is still reading pages when
# it is stopped; the run that resumes it goes at full speed.
SLOW_PAGES_S = 3.0
WAIT_S = 120.0
# Small profile batches and fast item writes: the crawl's length is its slow pages.
FAST = {"GRAPH_WRITE_RATE": "1000", "PROFILE_BATCH_SIZE": "20"}


class Cli:
    """`python -m credly_connector` processes started with a pipeline's settings."""

    def __init__(self, pipeline: Pipeline) -> None:
        inherited = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        self.env = {**inherited, **pipeline.stack.env, **FAST}
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start a command (its output captured)."""
        # Our own interpreter and module, with arguments the test built.
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "credly_connector", *args],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As from a terminal: a test run started in the background inherits SIGINT ignored.
            preexec_fn=_default_sigint,  # noqa: PLW1509
        )
        self.started.append(process)
        return process

    def run(self, *args: str) -> tuple[int, str, str]:
        """Run a command to its end: exit code, standard output and standard error."""
        process = self.start(*args)
        out, err = process.communicate(timeout=WAIT_S)
        return process.returncode, out, err

    def close(self) -> None:
        """Kill (by pid) whatever is still running and collect it."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)


@pytest.fixture
def cli_pipeline(
    make_pipeline: Callable[..., Pipeline],  # noqa: F811
) -> Iterator[tuple[Pipeline, Cli]]:
    """A pipeline of ten badge pages (its tables and queues made) and a way to run the CLI.

    Ten pages are five page messages: two workers are still reading pages after the first two.
    """
    pipeline = make_pipeline(badges=480, seed=31, env=dict(FAST))
    pipeline.ctx.tables.ensure()
    pipeline.ctx.queues.ensure()
    cli = Cli(pipeline)
    try:
        yield pipeline, cli
    finally:
        cli.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_mid_crawl(pipeline: Pipeline, process: subprocess.Popen[str]) -> CrawlRecord:
    """The crawl once it is reading pages and at least one is settled (fails if it ended)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        latest = pipeline.ctx.crawls.latest(1)
        if latest and latest[0].phase == "pages":
            record = latest[0]
            if any(True for _ in pipeline.ctx.steps.records(record.crawl_id, "page")):
                return record
        time.sleep(0.1)
    raise AssertionError("the crawl never reached its pages")


def slow_pages(pipeline: Pipeline, seconds: float) -> None:
    pipeline.stack.credly.api.knobs.set_latency(seconds, "badges")


def assert_resumed_exact(pipeline: Pipeline, cli: Cli, crawl_id: str) -> None:
    """`crawl` again continues crawl `crawl_id` (and no other) to exactly the oracle's items."""
    slow_pages(pipeline, 0.0)
    code, out, err = cli.run("crawl", "--kind", "full", "--quiet", "--workers", "2")
    assert code == 0, (out, err)
    assert f"resuming crawl {crawl_id} (full, " in out
    assert f"crawl {crawl_id} (full): succeeded" in out
    assert "Traceback" not in err
    record = pipeline.ctx.crawls.get(crawl_id)
    assert record is not None
    assert record.status == CrawlStatus.SUCCEEDED
    assert [c.crawl_id for c in pipeline.ctx.crawls.latest(5)] == [crawl_id]
    assert pipeline.stored() == pipeline.expected()
    assert pipeline.ctx.leases.current(pipeline.stack.organization_id) is None


def test_ctrl_c_stops_the_crawl_cleanly_and_the_next_crawl_resumes_it(
    cli_pipeline: tuple[Pipeline, Cli],
) -> None:
    # Given a crawl running in its own process, caught while it reads its (slow) pages,
    pipeline, cli = cli_pipeline
    slow_pages(pipeline, SLOW_PAGES_S)
    process = cli.start("crawl", "--kind", "full", "--quiet", "--workers", "2")
    record = wait_mid_crawl(pipeline, process)

    # when it gets Ctrl-C,
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=WAIT_S)

    # then it exits 130 without a traceback, naming the crawl, its phase and both ways on;
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert "Exception ignored" not in err
    assert f"interrupted: crawl {record.crawl_id} is {CrawlStatus.RUNNING} (phase pages)" in out
    assert 'run "python -m credly_connector crawl" again to resume it' in out
    assert f'"python -m credly_connector cancel {record.crawl_id}" to cancel it' in out
    stopped = pipeline.ctx.crawls.get(record.crawl_id)
    assert stopped is not None
    assert not stopped.final
    # and `crawl` again resumes that crawl, which ends with exactly the oracle's items.
    assert_resumed_exact(pipeline, cli, record.crawl_id)


def test_a_killed_crawl_is_resumed_by_the_next_crawl(cli_pipeline: tuple[Pipeline, Cli]) -> None:
    # Given a crawl running in its own process with a short message lease, caught mid-way,
    pipeline, cli = cli_pipeline
    slow_pages(pipeline, SLOW_PAGES_S)
    process = cli.start("crawl", "--kind", "full", "--quiet", "--workers", "2", "--lease", "3")
    record = wait_mid_crawl(pipeline, process)

    # when it is killed (nothing cleaned up: its lease and its taken messages are left),
    process.kill()
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL

    # then `crawl` again resumes it (the messages it held come back within their lease).
    assert_resumed_exact(pipeline, cli, record.crawl_id)
