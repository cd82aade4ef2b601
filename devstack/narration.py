"""The demo's changes in words: who, which badge, and what it did (or why it did nothing).

Changes are told with people's UPNs and badge names, never bare ids, and each change is
accounted for: the profile it changed, or, when it changed none, the reason the connector
gives for that badge (asked of the per-person diagnosis route, as an administrator would).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from devstack.synthetic import Mutation, World
from devstack.synthetic.mutation import MutationKind

Items = dict[str, dict[str, Any]]
Diagnose = Callable[[str], tuple[int, Any]]

_DONE = {
    MutationKind.REVOKE: "was revoked",
    MutationKind.MAKE_PRIVATE: "was made private by its earner",
    MutationKind.MAKE_PUBLIC: "was made public by its earner",
    MutationKind.REPLACE: "was replaced",
    MutationKind.DELETE_BADGE: "was deleted",
}
_USER_DONE = {
    MutationKind.DISABLE_USER: "was disabled in Entra ID",
    MutationKind.ENABLE_USER: "was enabled in Entra ID",
    MutationKind.UNLICENSE_USER: "lost every licence in Entra ID",
    MutationKind.REMOVE_USER: "was deleted from Entra ID",
    MutationKind.ADD_ALIAS: "got a new alias in Entra ID",
}


def entries(item: dict[str, Any]) -> dict[str, str]:
    """Badge id -> `Name (certification, 2026-01-02)` for every badge shown on an item."""
    found: dict[str, str] = {}
    props = item["properties"]
    for prop, kind in (("certifications", "certification"), ("awards", "award")):
        for value in props.get(prop, []):
            entry = json.loads(value)
            badge_id = str(entry["webUrl"]).rsplit("/", 1)[-1]
            found[badge_id] = f'"{entry["displayName"]}" ({kind}, {entry["issuedDate"]})'
    return found


def badges(count: int) -> str:
    """`1 badge`, `2 badges`."""
    return f"{count} badge" + ("" if count == 1 else "s")


def upn_of(item: dict[str, Any]) -> str:
    """The userPrincipalName an item belongs to."""
    return str(json.loads(item["properties"]["accountInformation"])["userPrincipalName"])


def badge_words(world: World, badge_id: str) -> tuple[str, str]:
    """(`"Template name"`, recipient email) of a badge, for the sentences below."""
    badge = world.find_badge(badge_id)
    if badge is None:
        return f"badge {badge_id}", "an unknown recipient"
    template = world.credly.templates.get(badge.template_id)
    name = f'"{template.name}"' if template is not None else f"badge {badge_id}"
    return name, badge.recipient_email


def user_upn(world: World, user_id: str | None) -> str:
    """The UPN of a directory user (or its id when the user is gone)."""
    user = world.directory.get(user_id) if user_id else None
    return str(user.user_principal_name) if user is not None else f"user {user_id}"


def describe_mutation(world: World, mutation: Mutation, names: dict[str, tuple[str, str]]) -> str:
    """One sentence for a change at Credly or in the directory.

    Args:
        world: The world changed.
        mutation: The change.
        names: Badge words captured before the change (a deleted badge has none after).
    """
    if mutation.kind in _USER_DONE:
        detail = f" ({mutation.detail})" if mutation.detail else ""
        return f"{user_upn(world, mutation.user_id)} {_USER_DONE[mutation.kind]}{detail}"
    badge_id = mutation.badge_ids[-1] if mutation.badge_ids else ""
    name, email = names.get(badge_id) or badge_words(world, badge_id)
    verb = _DONE.get(mutation.kind, mutation.kind.value)
    if mutation.kind == MutationKind.ADD_BADGE:
        return f"{email} earned {name} (accepted)"
    return f"{name} of {email} {verb}"


def profile_changes(before: Items, after: Items) -> list[str]:
    """Lines saying which profile gained or lost which badge, and which items went away."""
    lines: list[str] = []
    for item_id in sorted(set(before) | set(after)):
        old, new = before.get(item_id), after.get(item_id)
        if old == new:
            continue
        if new is None:
            assert old is not None
            lines.append(f"  {upn_of(old)}: profile item deleted ({badges(len(entries(old)))})")
            continue
        old_entries = entries(old) if old else {}
        new_entries = entries(new)
        header = f"  {upn_of(new)}:" + (" new profile item" if old is None else "")
        lines.append(header)
        lines.extend(f"    + {new_entries[b]}" for b in sorted(set(new_entries) - set(old_entries)))
        lines.extend(f"    - {old_entries[b]}" for b in sorted(set(old_entries) - set(new_entries)))
        changed = {
            b for b in set(old_entries) & set(new_entries) if old_entries[b] != new_entries[b]
        }
        lines.extend(f"    ~ {new_entries[b]}" for b in sorted(changed))
    return lines


def account_for(
    world: World,
    mutation: Mutation,
    snapshots: tuple[Items, Items],
    diagnose: Diagnose,
    names: dict[str, tuple[str, str]],
) -> str:
    """What a change did to the profiles, or why it changed none (the diagnosis's reason).

    Args:
        world: The world changed.
        mutation: The change.
        snapshots: The items before and after the change was applied.
        diagnose: Asks the connector's diagnosis of one email: (status, body).
        names: Badge words captured before the change.
    """
    before, after = snapshots
    if mutation.kind in _USER_DONE:
        return _account_for_user(world, mutation, before, after)
    effects = []
    for badge_id in mutation.badge_ids:
        for item_id in sorted(set(before) | set(after)):
            old = entries(before[item_id]) if item_id in before else {}
            new = entries(after[item_id]) if item_id in after else {}
            item = after.get(item_id) or before[item_id]
            if badge_id in new and badge_id not in old:
                effects.append(f"now on {upn_of(item)}'s profile")
            elif badge_id in old and badge_id not in new:
                gone = "" if item_id in after else " (their item was deleted: nothing left)"
                effects.append(f"taken off {upn_of(item)}'s profile{gone}")
    return "; ".join(effects) or "changed no profile: " + _why_not(mutation, diagnose, names)


def _account_for_user(world: World, mutation: Mutation, before: Items, after: Items) -> str:
    upn = user_upn(world, mutation.user_id)
    touched = [i for i in set(before) | set(after) if before.get(i) != after.get(i)]
    mine = [i for i in touched if upn_of(after.get(i) or before[i]).lower() == upn.lower()]
    if not mine:
        held = any(upn_of(item).lower() == upn.lower() for item in before.values())
        if held:
            return "changed no profile: their item already showed what it should"
        return "changed no profile: they had no Credly badge on their profile to begin with"
    item_id = mine[0]
    if item_id not in after:
        return f"their profile item was deleted ({badges(len(entries(before[item_id])))})"
    return "their profile item was rewritten"


def _why_not(mutation: Mutation, diagnose: Diagnose, names: dict[str, tuple[str, str]]) -> str:
    badge_id = mutation.badge_ids[-1] if mutation.badge_ids else ""
    _, email = names.get(badge_id, ("", ""))
    if not email:
        return "the connector knows no recipient for it"
    status, body = diagnose(email)
    if status != 200 or not isinstance(body, dict):
        return f"the diagnosis of {email} answered {status}"
    for badge in body.get("badges", []):
        if badge.get("id") == badge_id:
            if badge.get("included"):
                return "it is shown, as before"
            reason = badge.get("reason") or "not shown"
            fix = badge.get("fix")
            return f"{reason}" + (f" ({fix})" if fix else "")
    if mutation.kind == MutationKind.DELETE_BADGE:
        return "the badge was never on a profile"
    return f"the connector has no record of it under {email}"
