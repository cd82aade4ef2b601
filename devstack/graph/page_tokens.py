"""Opaque `$skiptoken` / `$deltatoken` values: paging state bound to one stand-in instance."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any


class PageTokens:
    """Encodes paging state as an opaque token, and reads back only this instance's tokens.

    The state is JSON with a per-instance nonce, base64url-encoded without padding; a token
    from another stand-in (or from before a restart) decodes to None, as an expired one would.

    Args:
        nonce: The instance's nonce (default: a random one).
    """

    def __init__(self, nonce: str | None = None) -> None:
        self._nonce = nonce or secrets.token_hex(4)

    def encode(self, state: dict[str, Any]) -> str:
        """The token carrying `state`."""
        raw = json.dumps({**state, "n": self._nonce}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, token: str) -> dict[str, Any] | None:
        """The state a token carries, or None when it is malformed or not this instance's."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            state = json.loads(raw)
        except (binascii.Error, ValueError):
            return None
        if not isinstance(state, dict) or state.get("n") != self._nonce:
            return None
        return state
