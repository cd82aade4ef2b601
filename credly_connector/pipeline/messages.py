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
# The most listing pages one page message may name (their rows stay one partition's writes).
MAX_PAGES_PER_MESSAGE = 8
STAGES = (START, PAGES, PLAN, PROFILES, FINISH)


@dataclass(frozen=True)
class StartMessage:
    """Start a crawl that was requested (its record and lease exist).

    Attributes:
        sent: Once the crawl started, how many page messages earlier invocations sent (a
            start that ran out of time sends the rest from its next message).
    """

    crawl_id: str
    sent: int = 0


@dataclass(frozen=True)
class PageMessage:
    """Fetch and store pages `page` .. `page + count - 1` of the crawl's badge listing.

    Each page keeps its own step (checkpoint, progress bit, failure); the pages of one
    message share its table writes, so a page costs less than a message of its own.
    """

    crawl_id: str
    page: int
    count: int = 1

    @property
    def numbers(self) -> range:
        """The page numbers the message reads."""
        return range(self.page, self.page + self.count)


@dataclass(frozen=True)
class PlanMessage:
    """Plan the crawl's profile batches, one slice at a time (see `pipeline/full_plan.py`).

    The first message (from the pages' last step) has only the crawl id; each slice of a
    full crawl's plan sends the next, saying where to go on.

    Attributes:
        slice: The slice's number (0 for the first message, which is slice 1).
        part: The walk the slice continues: `orphans`, `badges`, `people`, then `send`.
        after: Where that walk resumes: a row key, a user id, or a batch number (`send`).
        batch: The number the slice's first batch gets.
        sweep: Whether every page succeeded, so rows no page saw are swept.
        fresh: Whether the people walk found nobody with an item.
    """

    crawl_id: str
    slice: int = 0
    part: str = ""
    after: str = ""
    batch: int = 1
    sweep: bool = False
    fresh: bool = False


@dataclass(frozen=True)
class ProfileMessage:
    """Recompose the items of some users, and record decisions for unresolved emails.

    Attributes:
        span: For a full crawl's range batch, (start, stop): the batch owns the badge rows
            whose keys fall in [start, stop) ('' = unbounded), and recomposes the people
            they resolve to that have no item yet (those with one are in the crawl's people
            batches); `emails` then lists the range's emails whose rows the crawl swept.
        fresh: Whether the plan found nobody with an item: a range batch then recomposes
            everyone it finds, and its first attempt reads nobody's row (its writes create
            them; one that someone created since is refused and composed again).
    """

    crawl_id: str
    batch: int
    user_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = field(default=())
    span: tuple[str, ...] = ()
    fresh: bool = False


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
                span=_strings(raw, "span"),
                fresh=bool(raw.get("fresh", False)),
            )
        elif expected is PageMessage:
            count = int(raw.get("count", 1))
            if not 1 <= count <= MAX_PAGES_PER_MESSAGE:
                raise ValueError(f"count {count} is outside 1..{MAX_PAGES_PER_MESSAGE}")
            message = PageMessage(crawl_id=raw["crawl_id"], page=int(raw["page"]), count=count)
        elif expected is StartMessage:
            message = StartMessage(crawl_id=raw["crawl_id"], sent=int(raw.get("sent", 0)))
        elif expected is PlanMessage:
            message = PlanMessage(
                crawl_id=raw["crawl_id"],
                slice=int(raw.get("slice", 0)),
                part=str(raw.get("part", "")),
                after=str(raw.get("after", "")),
                batch=int(raw.get("batch", 1)),
                sweep=bool(raw.get("sweep", False)),
                fresh=bool(raw.get("fresh", False)),
            )
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
