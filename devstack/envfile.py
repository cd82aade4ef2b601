"""Dotenv files of settings that POSIX `sh` sources as they are: `set -a; . FILE; set +a`."""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

MARKER = "# Written by python -m devstack"
"""The first line of every file written here: only such a file is ever overwritten."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvFileError(ValueError):
    """A setting cannot be written, or the file would overwrite one not written here."""


def shell_quote(value: str) -> str:
    """`value` as one `sh` word that expands to exactly `value` (quoted when needed).

    Raises:
        EnvFileError: The value holds a newline or NUL, which a dotenv line cannot carry.
    """
    if "\n" in value or "\r" in value or "\0" in value:
        raise EnvFileError("a setting value must not contain a line break or NUL")
    return shlex.quote(value)


def env_file_text(env: Mapping[str, str], comments: Iterable[str] = ()) -> str:
    """The file's text: the marker and `comments` as `#` lines, then one `NAME=value` per line.

    Raises:
        EnvFileError: A name that is not a shell variable name, or an unwritable value.
    """
    lines = [MARKER, *(f"# {line}".rstrip() for line in comments)]
    for name, value in env.items():
        if not _NAME.fullmatch(name):
            raise EnvFileError(f"{name!r} is not a shell variable name")
        lines.append(f"{name}={shell_quote(value)}")
    return "\n".join(lines) + "\n"


def write_env_file(
    path: Path, env: Mapping[str, str], *, comments: Iterable[str] = (), force: bool = False
) -> Path:
    """Write `env` to `path` readable by its owner only (mode 0600: it holds secrets).

    The file is replaced atomically, so a reader never sees half of it. A file that exists
    and was not written here (no marker line) is kept unless `force`: it may be someone's own
    settings.

    Args:
        path: The file to write.
        env: Setting name -> value, written in this order.
        comments: Lines written as `#` comments under the marker.
        force: Overwrite a file that was not written here.

    Returns:
        The absolute path written.

    Raises:
        EnvFileError: A bad name or value, or a foreign file in the way.
    """
    target = path.expanduser().absolute()
    text = env_file_text(env, comments)
    check_replaceable(path, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600 before anything is written into it.
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def check_replaceable(path: Path, *, force: bool = False) -> None:
    """Refuse early when `path` exists and was not written here (unless `force`).

    Raises:
        EnvFileError: Naming the file and what to do instead.
    """
    target = path.expanduser()
    if target.exists() and not force and not _written_here(target):
        raise EnvFileError(
            f"{path} exists and was not written by python -m devstack; "
            "choose another --env-file, move the file away, or pass --force"
        )


def _written_here(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as existing:
            return existing.readline().rstrip("\n") == MARKER
    except OSError:
        return False
