"""The answer of an operation: an HTTP status and a JSON body, free of any web framework."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """What an operation returns; bindings turn it into an HTTP response or CLI output."""

    status: int
    body: dict[str, Any] | list[Any]
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> str:
        """The body as JSON text that always encodes as UTF-8.

        A message may quote what the caller sent; a lone surrogate in it cannot be encoded,
        so such a body is written with ASCII escapes instead of failing the response.
        """
        text = json.dumps(self.body, ensure_ascii=False, indent=2)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(self.body, ensure_ascii=True, indent=2)
        return text


def problem(status: int, message: str, **extra: Any) -> Answer:
    """A 4xx/5xx answer with a message saying what was wrong."""
    return Answer(status, {"error": {"status": status, "message": message, **extra}})


def parse_limit(limit: str | None, *, default: int, most: int) -> int | Answer:
    """A `limit` query value between 1 and `most` (`default` when absent), or the 400 why not."""
    try:
        count = default if limit is None else int(limit)
    except ValueError:
        return problem(400, '"limit" must be a whole number.')
    if not 1 <= count <= most:
        return problem(400, f'"limit" must be between 1 and {most}.')
    return count


def parse_json_object(body: bytes, *, allowed: set[str]) -> dict[str, Any] | Answer:
    """A request body as a JSON object with only `allowed` keys, or the 4xx answer why not."""
    if len(body) > MAX_BODY_BYTES:
        return problem(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # The parser recurses per nesting level: a body of brackets must be a 400, not a 500.
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else exc
        return problem(400, f"The request body is not valid JSON: {reason}")
    if not isinstance(value, dict):
        return problem(400, "The request body must be a JSON object.")
    unknown = sorted(set(value) - allowed)
    if unknown:
        return problem(
            400,
            f"Unknown field(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(allowed))}.",
        )
    return value
