"""The main job: the demo runs the app through the local host, as an administrator would."""

from __future__ import annotations

import io
import re

import pytest

from devstack.demo import run_demo

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _section(text: str, title: str) -> str:
    start = text.index(f"== {title}")
    end = text.find("\n== ", start + 1)
    return text[start : end if end != -1 else None]


@pytest.mark.timeout(240)
def test_the_demo_sets_up_crawls_and_applies_a_webhook_over_http(tmp_path):
    out = io.StringIO()

    code = run_demo(out, badges=150, seed=3, preview_dir=tmp_path)

    text = out.getvalue()
    assert code == 0, text
    setup = _section(text, "setup: POST /api/ops/setup")
    for step in ("connection", "schema", "profile source", "precedence"):
        assert re.search(rf"{step}\s+created|{step}\s+updated", setup), setup
    assert text.count(": succeeded in ") == 3, text
    assert (tmp_path / "index.html").is_file()
    webhook = _section(text, "a badge accepted at Credly")
    assert re.search(r"on \S+@\S+'s profile \d+\.\d s later, with no crawl running", webhook)
    # Every change is told with names and accounted for: an effect line under each.
    did = _section(text, "what each change did")
    told = [line for line in did.splitlines()[1:] if line.startswith("  ") and line.strip()]
    assert len(told) == 6, did
    for change, effect in zip(told[::2], told[1::2], strict=True):
        assert "@" in change, change
        assert effect.startswith("    "), effect
        assert effect.strip(), effect
    assert not UUID.search(did), did
    assert "try next" in text
