"""What one mutation of a world is: its kind, the record of what it changed, and its refusal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MutationKind(StrEnum):
    """What a mutation did."""

    ACCEPT = "accept"
    REVOKE = "revoke"
    MAKE_PRIVATE = "make_private"
    MAKE_PUBLIC = "make_public"
    REPLACE = "replace"
    ADD_BADGE = "add_badge"
    EXPIRE = "expire"
    DELETE_BADGE = "delete_badge"
    DISABLE_USER = "disable_user"
    ENABLE_USER = "enable_user"
    UNLICENSE_USER = "unlicense_user"
    REMOVE_USER = "remove_user"
    ADD_ALIAS = "add_alias"


@dataclass(frozen=True, slots=True)
class Mutation:
    """What one mutation changed.

    Attributes:
        kind: The mutation.
        at: The instant it happened (the `updated_at` it set, the event's `occurred_at`).
        person_index: The person concerned (`World.people` index).
        badge_ids: Badges changed or created; for `REPLACE`, the replaced one then the new.
        user_id: The directory user changed or removed, if any.
        event_ids: Credly events recorded, in order.
        detail: A short human-readable note (e.g. the new alias).
    """

    kind: MutationKind
    at: datetime
    person_index: int
    badge_ids: tuple[str, ...] = ()
    user_id: str | None = None
    event_ids: tuple[str, ...] = ()
    detail: str = ""


class NoEligibleTargetError(LookupError):
    """No record is eligible for the requested mutation."""
