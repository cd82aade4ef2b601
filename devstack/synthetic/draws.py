"""Seeded draws shared by the generator and the mutator: ids, secrets, slugs and recasing."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TypeVar

_NON_SLUG = re.compile(r"[^a-z0-9]+")

T = TypeVar("T")


def stream(seed: int, purpose: str) -> random.Random:
    """An independent generator for one purpose, so one part's draws never shift another's.

    String seeds hash the same in every process.
    """
    return random.Random(f"{seed}:{purpose}")


def new_id(rng: random.Random) -> str:
    """A version-4 UUID string drawn from `rng` (same as `uuid.UUID(int=..., version=4)`)."""
    value = rng.getrandbits(128)
    value = (value & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_secret(rng: random.Random, nbytes: int) -> str:
    """A hex secret (token, client id or client secret) of `nbytes` bytes drawn from `rng`."""
    return f"{rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"


def slugify(text: str) -> str:
    """A Credly-style vanity slug: lower-case ASCII words joined by hyphens, or ``"x"``."""
    return _NON_SLUG.sub("-", text.lower()).strip("-") or "x"


def recase(email: str, rng: random.Random) -> str:
    """The same address in another letter case, as people type it.

    Title-Cased parts (``Anna.Smith@Contoso.com``) or all upper case.
    """
    if rng.random() < 0.7:
        local, _, domain = email.partition("@")
        titled_local = ".".join(part.capitalize() for part in local.split("."))
        return f"{titled_local}@{domain.capitalize()}"
    return email.upper()


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in ``[0, n)``; faster than `randrange` in the generator's hot loops."""
    return int(rng.random() * n)


def pick(rng: random.Random, options: Sequence[T]) -> T:
    """A uniform choice; faster than `Random.choice` in the generator's hot loops."""
    return options[int(rng.random() * len(options))]
