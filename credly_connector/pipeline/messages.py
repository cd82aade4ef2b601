"""Queue messages between the pipeline's stages: small references, never badge data."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, cast

from credly_connector.errors import BadDataError

MAX_MESSAGE_BYTES = 48 * 1024
# Base64 grows a body by 4/3; keep the encoded message under the queue's 64 KB with room.
MAX_JSON_BYTES = MAX_MESSAGE_BYTES * 3 // 4 - 256

START, PAGES, PLAN, PROFILES, FINISH = "start", "pages", "plan", "profiles", "finish"
STAGES = (START, PAGES, PLAN, PROFILES, FINISH)


@dataclass(frozen=True)
class StartMessage:
    """Start a crawl that was requested (its record and lease exist)."""

    crawl_id: str


@dataclass(frozen=True)
class PageMessage:
    """Fetch and store one page of the crawl's badge listing."""

    crawl_id: str
    page: int


@dataclass(frozen=True)
class PlanMessage:
    """All pages are settled: decide who must be recomposed and enqueue the batches."""

    crawl_id: str


@dataclass(frozen=True)
class ProfileMessage:
    """Recompose the items of some users, and record decisions for unresolved emails.

    Attributes:
        known: Whether the plan read the stores for this batch (a full crawl's plan does),
            which makes the next three exact as of the plan: the batch reads its badges as
            one range (`span`, first and last email) plus the `outside` emails one by one,
            no other email has a badge, and only the users in `stored` have an item.
    """

    crawl_id: str
    batch: int
    user_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = field(default=())
    known: bool = False
    span: tuple[str, ...] = ()
    outside: tuple[str, ...] = ()
    stored: tuple[str, ...] = ()


@dataclass(frozen=True)
class FinishMessage:
    """All batches are settled: total the counts, move the watermark, end the crawl."""

    crawl_id: str


Message = StartMessage | PageMessage | PlanMessage | ProfileMessage | FinishMessage
_TYPES: dict[str, type[Any]] = {
    START: StartMessage,
    PAGES: PageMessage,
    PLAN: PlanMessage,
    PROFILES: ProfileMessage,
    FINISH: FinishMessage,
}
M = TypeVar("M")


def stage_of(message: Message) -> str:
    """The stage (and queue) a message belongs to."""
    for stage, kind in _TYPES.items():
        if isinstance(message, kind):
            return stage
    raise TypeError(type(message).__name__)


def encode(message: Message) -> str:
    """The message body as JSON text (the queue client base64-encodes it)."""
    body = json.dumps(asdict(message), separators=(",", ":"), ensure_ascii=False)
    if len(body.encode()) > MAX_JSON_BYTES:
        msg = f"{type(message).__name__} of {len(body.encode())} bytes exceeds {MAX_JSON_BYTES}"
        raise ValueError(msg)
    return body


def json_size(message: Message) -> int:
    """Bytes of the message's JSON body."""
    return len(json.dumps(asdict(message), separators=(",", ":"), ensure_ascii=False).encode())


def decode(stage: str, body: str | bytes, kind: type[M]) -> M:
    """Parse a message body of `stage`, refusing anything malformed with a clear reason."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadDataError("invalid_message", f"{stage} message is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("crawl_id"), str):
        raise BadDataError("invalid_message", f"{stage} message lacks a crawl_id")
    expected = _TYPES[stage]
    if expected is not kind:
        raise TypeError(f"{stage} messages are {expected.__name__}, not {kind.__name__}")
    try:
        message: Message
        if expected is ProfileMessage:
            message = ProfileMessage(
                crawl_id=raw["crawl_id"],
                batch=int(raw["batch"]),
                user_ids=_strings(raw, "user_ids"),
                emails=_strings(raw, "emails"),
                known=bool(raw.get("known", False)),
                span=_strings(raw, "span"),
                outside=_strings(raw, "outside"),
                stored=_strings(raw, "stored"),
            )
        elif expected is PageMessage:
            message = PageMessage(crawl_id=raw["crawl_id"], page=int(raw["page"]))
        else:
            message = _TYPES[stage](crawl_id=raw["crawl_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadDataError("invalid_message", f"malformed {stage} message: {exc}") from exc
    return cast("M", message)


def _strings(raw: dict[str, Any], name: str) -> tuple[str, ...]:
    value = raw.get(name, ())
    if not isinstance(value, list | tuple):
        raise TypeError(f"{name} is not a list")
    return tuple(str(v) for v in value)
