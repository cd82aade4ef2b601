"""Seeded draws shared by the generator and the mutator: ids, secrets, slugs and recasing."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TypeVar

_VERSION_MASK = 0xF000 << 64
_VERSION_4 = 0x4000 << 64
_VARIANT_MASK = 0xC000 << 48
_VARIANT_RFC4122 = 0x8000 << 48
_NON_SLUG = re.compile(r"[^a-z0-9]+")

T = TypeVar("T")


def stream(seed: int, purpose: str) -> random.Random:
    """An independent generator for one purpose, so one part's draws never shift another's.

    Args:
        seed: The world's (or mutator's) seed.
        purpose: A label such as ``"people"``; string seeds hash the same in every process.

    Returns:
        A `random.Random` seeded from both.
    """
    return random.Random(f"{seed}:{purpose}")


def new_id(rng: random.Random) -> str:
    """A version-4 UUID string drawn from `rng` (same as `uuid.UUID(int=..., version=4)`).

    Args:
        rng: The seeded generator to draw 128 bits from.

    Returns:
        The canonical lower-case hyphenated form.
    """
    value = rng.getrandbits(128)
    value = (value & ~_VERSION_MASK) | _VERSION_4
    value = (value & ~_VARIANT_MASK) | _VARIANT_RFC4122
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_secret(rng: random.Random, nbytes: int = 32) -> str:
    """A hex secret (token, client id or client secret) drawn from `rng`.

    Args:
        rng: The seeded generator.
        nbytes: Length of the secret in bytes (twice as many hex digits).

    Returns:
        Lower-case hex digits.
    """
    return f"{rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"


def slugify(text: str) -> str:
    """A Credly-style vanity slug: lower-case ASCII words joined by hyphens.

    Args:
        text: Any name; non-ASCII letters are dropped.

    Returns:
        The slug, or ``"x"`` when nothing ASCII is left.
    """
    return _NON_SLUG.sub("-", text.lower()).strip("-") or "x"


def recase(email: str, rng: random.Random) -> str:
    """The same address with a different letter case, as people type it.

    Args:
        email: A lower-case address.
        rng: The seeded generator choosing the style.

    Returns:
        Either Title-Cased parts (``Anna.Smith@Contoso.com``) or all upper case; always
        different from `email` when it has letters.
    """
    if rng.random() < 0.7:
        local, _, domain = email.partition("@")
        titled_local = ".".join(part.capitalize() for part in local.split("."))
        return f"{titled_local}@{domain.capitalize()}"
    return email.upper()


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in ``[0, n)``; faster than `randrange` in the generator's hot loops.

    Args:
        rng: The seeded generator.
        n: The exclusive upper bound (> 0).

    Returns:
        The integer.
    """
    return int(rng.random() * n)


def pick(rng: random.Random, options: Sequence[T]) -> T:
    """A uniform choice; faster than `Random.choice` in the generator's hot loops.

    Args:
        rng: The seeded generator.
        options: A non-empty sequence.

    Returns:
        One element.
    """
    return options[int(rng.random() * len(options))]
