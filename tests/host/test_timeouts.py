"""functionTimeout: the worker is restarted, and the timed-out message comes back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devstack.standin import Knobs
from tests.host.conftest import HostStack, wait_until

# Every stage runs under this timeout: on a busy machine a quick stage can take a few
# seconds, so it is well above that, and Credly's latency well above it.
TIMEOUT_S, CREDLY_LATENCY_S = 5.0, 10.0


def test_a_timed_out_function_restarts_its_instance_and_its_message_comes_back(
    make_host_stack: Callable[..., HostStack],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given Credly answering after 10 s, and a function timeout of 5 s.
    stack = make_host_stack(seed=3, credly_knobs=Knobs(latency_s=CREDLY_LATENCY_S))
    host = stack.host(instances=2, timers=False, function_timeout_s=TIMEOUT_S, message_lease_s=3.0)
    pids = set(host.instance_pids)

    # When a crawl's start stage (which reads Credly) outlives the timeout.
    crawl_id = stack.request_crawl(host)
    wait_until(lambda: host.restarts >= 1, "an instance restart", timeout_s=30)
    # (Credly quick again at once, so the next delivery of the message succeeds.)
    stack.pipeline.stack.credly.api.knobs.set_latency(0.0)

    # Then the host logged the timeout and replaced the instance that ran it.
    logged = capfd.readouterr().err
    assert f"crawl_start timed out after {TIMEOUT_S:g} s" in logged
    assert "exited after a function timeout; starting a new one" in caplog.text
    wait_until(lambda: len(host.instance_pids) == 2, "the replacement instance")
    assert set(host.instance_pids) != pids
    # And the message that timed out is delivered again (it was never deleted) and the
    # crawl ends exact.
    assert stack.wait_crawl(host, crawl_id)["status"] == "succeeded"
    assert stack.pipeline.stored() == stack.pipeline.expected()
