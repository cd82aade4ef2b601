"""Charging profile samples to pipeline stages."""

from __future__ import annotations

from bench.stacks import main, summarise

SDK = "Pipeline.run (core/pipeline/_base.py:242)"
PROFILE = [
    f"thread (1): dispatch_0;handle_page (pages.py:26);BadgeStore.compare (badges.py:83);{SDK} 7",
    "thread (2): profiles_1;_worker (thread.py:83);prepare_person (profiles.py:160);"
    f"BadgeStore.badges_of (badges.py:97);{SDK} 3",
    "thread (3): MainThread;run_until (dispatcher.py:80);sleep (time:1) 2",
    "thread (4): Thread-9;select (selectors.py:1) 1",
]


def test_samples_are_charged_to_the_first_matching_stage():
    stages, total, in_sdk = summarise(PROFILE)
    assert total == 13
    assert in_sdk == 10
    assert stages == {
        "pages: compare/write badge rows": 7,
        # A badge read made to compose a profile is the profile stage's, not the pages'.
        "profiles: prepare (read person, badges; compose)": 3,
        "local dispatcher (queue polling)": 2,
        "other": 1,
    }


def test_the_command_prints_shares(tmp_path, capsys):
    profile = tmp_path / "profile.txt"
    profile.write_text("\n".join(PROFILE) + "\n", encoding="utf-8")
    assert main([str(profile)]) == 0
    printed = capsys.readouterr().out
    assert " 53.8%  pages: compare/write badge rows" in printed
    assert "13 samples" in printed
