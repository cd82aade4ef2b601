"""Identity overrides over HTTP and the CLI: set, remove and list, applied to profiles at once."""

from __future__ import annotations

import logging
from typing import Any

from credly_connector.directory import DirectoryUser
from credly_connector.errors import ConnectorError
from credly_connector.graph.pacing import urgent_writes
from credly_connector.ops.answers import Answer, parse_json_object, problem
from credly_connector.ops.people import current_index, parse_email, resolution_json
from credly_connector.pipeline.context import CrawlContext
from credly_connector.pipeline.recompose import Recomposed, recompose_emails
from credly_connector.rules import reasons
from credly_connector.rules.identity import MAX_EMAIL_LENGTH, METHOD_OVERRIDE, Resolution
from credly_connector.rules.text import clean_text
from credly_connector.stores.overrides import OverrideRecord

log = logging.getLogger(__name__)
FIELD = "userPrincipalName"
MAX_ACTOR_LENGTH = 200


def set_override(ctx: CrawlContext, raw_email: str, body: bytes, *, actor: str) -> Answer:
    """`PUT ops/identity-overrides/{email}` with `{"userPrincipalName": UPN}`.

    The UPN must be a user of the stored directory snapshot. The override is stored, then the
    user the email resolved to before and the new target are recomposed at once.

    Returns:
        201 (new) or 200 (replaced) with the override, the resolution before and after, and
        what was written; 400 for a bad email or body, 409 without a directory snapshot, 422
        for an unknown UPN, 502 when the override is stored but Graph could not be updated.
    """
    email = parse_email(raw_email)
    if isinstance(email, Answer):
        return email
    parsed = parse_json_object(body, allowed={FIELD})
    if isinstance(parsed, Answer):
        return parsed
    upn = parsed.get(FIELD)
    if not isinstance(upn, str) or not upn.strip() or len(upn) > MAX_EMAIL_LENGTH:
        return problem(
            400,
            f'"{FIELD}" is required: the userPrincipalName (at most {MAX_EMAIL_LENGTH} '
            f"characters) of the Entra user who holds {email}'s badges.",
        )
    target = _target(ctx, upn.strip())
    if isinstance(target, Answer):
        return target
    # The actor comes from a request header: one line of plain text, so it cannot forge log lines.
    actor = clean_text(actor, limit=MAX_ACTOR_LENGTH) or "unknown"
    before = current_index(ctx)
    previous = before.resolve(email)
    existing = ctx.identity_overrides.get(email)
    record = OverrideRecord(email, target.user_principal_name, actor, ctx.clock())
    ctx.identity_overrides.put(record)
    log.info("identity override set by %s", actor)
    applied = _apply(ctx, email, previous, override=record.to_json())
    if isinstance(applied, Answer):
        return applied
    body_out = {"override": record.to_json(), **applied, "warnings": _warnings(previous, target)}
    return Answer(200 if existing else 201, body_out)


def delete_override(ctx: CrawlContext, raw_email: str) -> Answer:
    """`DELETE ops/identity-overrides/{email}`: remove it and recompose who it affected.

    Returns:
        200 with the removed override and what was written; 404 when the email has no
        override (nothing changes, so repeating a delete is harmless).
    """
    email = parse_email(raw_email)
    if isinstance(email, Answer):
        return email
    previous = current_index(ctx).resolve(email)
    removed = ctx.identity_overrides.delete(email)
    if removed is None:
        return problem(404, f"No identity override exists for {email}; nothing was changed.")
    log.info("identity override removed")
    applied = _apply(ctx, email, previous, override=None)
    if isinstance(applied, Answer):
        return applied
    return Answer(200, {"deleted": removed.to_json(), **applied})


def list_overrides(ctx: CrawlContext) -> Answer:
    """`GET ops/identity-overrides`: every override and whom it resolves to now."""
    index = current_index(ctx)
    shown = []
    for record in ctx.identity_overrides.records():
        resolution = index.resolve(record.email)
        shown.append(
            {
                **record.to_json(),
                "userId": resolution.user.id if resolution.user else None,
                "reason": resolution.reason,
            }
        )
    return Answer(200, {"value": shown})


def _target(ctx: CrawlContext, upn: str) -> DirectoryUser | Answer:
    """The directory user with this UPN, or the answer explaining why there is none."""
    users = ctx.directory.users()
    if not users:
        return problem(
            409,
            "The directory snapshot is empty: run a crawl first so the connector has read the "
            "Entra users.",
        )
    folded = upn.lower()
    for user in users:
        if user.user_principal_name.lower() == folded:
            return user
    holder = current_index(ctx).resolve(folded).user
    hint = (
        f" {upn} is an address of the user {holder.user_principal_name}: use that UPN."
        if holder is not None and holder.user_principal_name.lower() != folded
        else " Check the spelling, or run a crawl if the user was created since the last one."
    )
    return problem(
        422,
        f"No user with userPrincipalName {upn} is in the directory snapshot "
        f"({len(users)} users).{hint}",
    )


def _apply(
    ctx: CrawlContext, email: str, previous: Resolution, *, override: dict[str, str] | None
) -> dict[str, Any] | Answer:
    """Recompose the previous and the new owner of `email`; the answer's common part."""
    affected = [previous.user.id] if previous.user else list(previous.candidates)
    try:
        # An administrator waits for these writes: ahead of a crawl's claimed permits.
        with urgent_writes():
            recomposed: Recomposed = recompose_emails(
                ctx, [email], origin=f"override:{email}", user_ids=affected
            )
    except ConnectorError as error:
        return problem(
            502,
            f"The override change is stored, but updating the profiles failed: {error}. The "
            "next crawl applies it; or repeat this request.",
            override=override,
        )
    index = current_index(ctx)
    return {
        "previous": resolution_json(index, previous, None),
        "resolution": resolution_json(
            index, index.resolve(email), ctx.identity_overrides.get(email)
        ),
        "recomposed": recomposed.to_json(),
    }


def _warnings(previous: Resolution, target: DirectoryUser) -> list[str]:
    warnings = []
    if (
        previous.user is not None
        and previous.method != METHOD_OVERRIDE
        and previous.user.id != target.id
    ):
        warnings.append(
            f"The email is the {previous.method} of {previous.user.user_principal_name}; its "
            "badges now go to the override's user instead."
        )
    if not target.account_enabled:
        warnings.append(reasons.REASON_FIXES[reasons.INACTIVE_USER])
    elif not target.licensed:
        warnings.append(reasons.REASON_FIXES[reasons.UNLICENSED_USER])
    return warnings
