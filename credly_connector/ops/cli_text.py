"""Operation answers as plain text for the command line: diagnoses, overrides, retries, refusals."""

from __future__ import annotations

from typing import Any

from credly_connector.ops.answers import Answer


def refusal(answer: Answer) -> str:
    """A refused operation as one line: its message, without the HTTP status fields."""
    body = answer.body if isinstance(answer.body, dict) else {}
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return f"error: {message or answer.json()}\n"


def _who(resolution: dict[str, Any]) -> str:
    """Whom an email resolves to, in a few words (`resolution_json`'s shape)."""
    user = resolution.get("user")
    if isinstance(user, dict):
        shown = f"{user['userPrincipalName']} (by {resolution.get('attribute') or 'override'})"
    elif resolution.get("candidates"):
        upns = ", ".join(c["userPrincipalName"] or c["id"] for c in resolution["candidates"])
        shown = f"ambiguous between {upns}"
    else:
        shown = "nobody"
    if resolution.get("reason"):
        shown += f"; not shown: {resolution['reason']}"
    return shown


def _written(recomposed: dict[str, Any]) -> str:
    return (
        f"{recomposed['written']} written, {recomposed['deleted']} deleted,"
        f" {recomposed['unchanged']} unchanged"
    )


def render_override_set(body: dict[str, Any]) -> str:
    """A `set_override` answer: the override, whom the email went to before and now."""
    override = body["override"]
    lines = [
        f"override {override['email']} -> {override['userPrincipalName']}"
        f" (set by {override['setBy']})",
        f"  before    {_who(body['previous'])}",
        f"  now       {_who(body['resolution'])}",
        f"  profiles  {_written(body['recomposed'])}",
    ]
    lines += [f"  warning: {warning}" for warning in body.get("warnings", [])]
    return "\n".join(lines) + "\n"


def render_override_deleted(body: dict[str, Any]) -> str:
    """A `delete_override` answer: what was removed and whom the email goes to now."""
    deleted = body["deleted"]
    return (
        f"override {deleted['email']} -> {deleted['userPrincipalName']} removed\n"
        f"  now       {_who(body['resolution'])}\n"
        f"  profiles  {_written(body['recomposed'])}\n"
    )


def render_overrides(body: dict[str, Any]) -> str:
    """A `list_overrides` answer as a table: email, target, who set it and when."""
    rows = [("email", "userPrincipalName", "set by", "set at", "holds badges")]
    for override in body.get("value", []):
        rows.append(
            (
                override["email"],
                override["userPrincipalName"],
                override["setBy"],
                override["setAt"],
                "yes" if override.get("userId") and not override.get("reason") else "no",
            )
        )
    if len(rows) == 1:
        return "no identity override\n"
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


def render_retry(body: dict[str, Any]) -> str:
    """A `retry_crawl` answer (202): which failed steps were sent again."""
    steps = ", ".join(body.get("redriven", [])) or "none"
    line = f"crawl {body['id']}: sent again {steps} (phase {body['phase']})"
    if body.get("poisonMessagesRemoved"):
        line += f"; {body['poisonMessagesRemoved']} poison message(s) removed"
    return line + "\n"


def render_diagnosis(body: dict[str, Any]) -> str:
    """A diagnosis answer as plain text for the command line."""
    resolution = body["resolution"]
    user = resolution["user"]
    lines = [f"Email: {body['email']}"]
    if user is not None:
        lines.append(
            f"Entra user: {user['userPrincipalName']} ({user['id']}) by {resolution['attribute']}"
            f"; enabled={user['enabled']} licensed={user['licensed']}"
        )
    elif resolution["candidates"]:
        shared = ", ".join(c["userPrincipalName"] for c in resolution["candidates"])
        lines.append(f"Entra user: ambiguous, shared by {shared}")
    else:
        lines.append("Entra user: none matches")
    sections = [(body["email"], body["badges"])]
    sections += [(o["email"], o["badges"]) for o in body["otherAddresses"]]
    for address, badges in sections:
        lines.append(f"Badges of {address}: {len(badges)}")
        for badge in badges:
            change = "  (will change at next crawl)" if badge["willChangeAtNextCrawl"] else ""
            lines.append(
                f"  {badge['status']:<16} {badge['templateName']} [{badge['id']}] "
                f"{badge['state']}, issued {badge['issuedAt'][:10]}{change}"
            )
    last = body["lastWrite"]
    lines.append(
        "Last write: nothing written to Graph for this person"
        if last is None
        else f"Last write: {last['writtenAt']} by {last['origin']}, "
        f"{len(last['badgeIds'])} badge(s) on the item"
    )
    lines.extend(f"- {note}" for note in body["notes"])
    return "\n".join(lines) + "\n"
