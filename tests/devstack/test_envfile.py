"""Dotenv files `sh` sources to exactly the values written; refusals that lose nothing."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.envfile import MARKER, EnvFileError, shell_quote, write_env_file

TRICKY = {
    "PLAIN": "abc-123_./:@%+,=",
    "SPACES": "0 0 2 * * *",
    "QUOTES": "it's \"quoted\" ''",
    "SHELL": "$HOME `id` $(id) \\ ; & | < > ( ) { } ! # ~ ~/x a:~/y",
    "JSON": json.dumps([{"id": "3f2c1b7e", "authTokenSetting": "CREDLY_TOKEN_1"}]),
    "CONNECTION": "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k/+==;",
    "UNICODE": "Zoë Ångström 認証",
    "EMPTY": "",
    "TAB": "a\tb",
}


def sourced(path: Path) -> dict[str, str]:
    """The variables `sh` exports after `set -a; . FILE; set +a` (in a clean environment)."""
    script = f'set -a; . "$1"; set +a; exec "{sys.executable}" -c "$2"'
    dump = "import json, os; print(json.dumps(dict(os.environ)))"
    done = subprocess.run(  # noqa: S603 - sh with our own script and file
        ["sh", "-c", script, "sh", str(path), dump],  # noqa: S607 - POSIX sh from PATH
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    exported: dict[str, str] = json.loads(done.stdout)
    for name in ("PATH", "PWD", "SHLVL", "_", "OLDPWD", "LC_CTYPE"):
        exported.pop(name, None)
    return exported


def test_sh_sources_every_value_exactly(tmp_path: Path) -> None:
    written = write_env_file(tmp_path / "env", TRICKY, comments=["a comment", "Load: set -a"])
    assert sourced(written) == TRICKY


@settings(max_examples=25, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n\r\0"), max_size=40))
def test_any_value_without_a_line_break_survives_sh(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    path = tmp_path_factory.mktemp("env") / "env"
    write_env_file(path, {"VALUE": value})
    assert sourced(path) == {"VALUE": value}


def test_every_line_is_a_comment_or_one_assignment(tmp_path: Path) -> None:
    text = write_env_file(tmp_path / "env", TRICKY).read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == MARKER
    assignments = [line for line in lines if not line.startswith("#")]
    assert [line.split("=", 1)[0] for line in assignments] == list(TRICKY)


def test_the_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_text(f"{MARKER}\nOLD=1\n", encoding="utf-8")
    path.chmod(0o644)
    write_env_file(path, {"NEW": "2"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sourced(path) == {"NEW": "2"}


def test_a_file_not_written_here_is_kept_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / ".env.local"
    path.write_text("MY_OWN=setting\n", encoding="utf-8")
    with pytest.raises(EnvFileError, match="was not written by python -m devstack"):
        write_env_file(path, {"NEW": "1"})
    assert path.read_text(encoding="utf-8") == "MY_OWN=setting\n"
    write_env_file(path, {"NEW": "1"}, force=True)
    assert sourced(path) == {"NEW": "1"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"A": "line\nbreak"}, "line break"),
        ({"A": "nul\0"}, "line break or NUL"),
        ({"NOT-A-NAME": "x"}, "not a shell variable name"),
        ({"1ST": "x"}, "not a shell variable name"),
    ],
)
def test_unwritable_settings_are_refused_before_the_file_is_touched(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "env"
    write_env_file(path, {"KEPT": "yes"})
    with pytest.raises(EnvFileError, match=message):
        write_env_file(path, env)
    assert sourced(path) == {"KEPT": "yes"}
    assert [p.name for p in tmp_path.iterdir()] == ["env"]


def test_bare_words_stay_bare() -> None:
    assert shell_quote("https://127.0.0.1:7071/v1.0") == "https://127.0.0.1:7071/v1.0"
    assert shell_quote("a b") == "'a b'"
