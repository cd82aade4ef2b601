"""The vocabulary of why a badge is not on a profile, with the fix an admin can act on."""

from __future__ import annotations

from typing import Final

INVALID_BADGE: Final = "invalid_badge"
"""The badge JSON lacks or garbles a field the connector needs (id, template, dates, types)."""
INVALID_EMAIL: Final = "invalid_email"
"""The badge's recipient email is missing or is not a usable address."""
INVALID_DATE: Final = "invalid_date"
"""The badge's issue or expiry date is outside any plausible range (before 1980, after 2099)."""

NOT_ACCEPTED: Final = "not_accepted"
"""The earner has not accepted the badge (pending, rejected or an unknown state)."""
REVOKED: Final = "revoked"
"""The issuer revoked the badge."""
REPLACED: Final = "replaced"
"""A newer badge replaces this one."""
PRIVATE: Final = "private"
"""The earner made the badge private."""
EXPIRED: Final = "expired"
"""The badge's expiry date has passed."""

UNMATCHED_EMAIL: Final = "unmatched_email"
"""No directory user has the recipient email (or an override names an unknown user)."""
AMBIGUOUS_EMAIL: Final = "ambiguous_email"
"""More than one directory user has the recipient email."""
INACTIVE_USER: Final = "inactive_user"
"""The matched directory user's account is disabled."""
UNLICENSED_USER: Final = "unlicensed_user"
"""The matched directory user has no licence with a mailbox, so Microsoft 365 has no profile."""

PARSE_REASONS: Final = (INVALID_BADGE, INVALID_EMAIL, INVALID_DATE)
"""Reasons the parser gives (`SkippedBadge.reason`)."""
BADGE_REASONS: Final = (NOT_ACCEPTED, REVOKED, REPLACED, PRIVATE, EXPIRED)
"""Reasons eligibility gives from the badge alone; they win over identity reasons."""
IDENTITY_REASONS: Final = (UNMATCHED_EMAIL, AMBIGUOUS_EMAIL, INACTIVE_USER, UNLICENSED_USER)
"""Reasons identity resolution gives about the badge's recipient."""
ALL_REASONS: Final = PARSE_REASONS + BADGE_REASONS + IDENTITY_REASONS

REASON_FIXES: Final[dict[str, str]] = {
    INVALID_BADGE: (
        "Open the badge in Credly and check it has a template and an issue date; if it looks "
        "right there, report the badge id to the connector's maintainers."
    ),
    INVALID_EMAIL: (
        "Correct the recipient email of the badge in Credly (or reissue it to a valid address)."
    ),
    INVALID_DATE: (
        "Correct the badge's issue or expiry date in Credly (or reissue the badge): dates before "
        "1980 or from 2100 on are taken for mistakes."
    ),
    NOT_ACCEPTED: (
        "Ask the earner to accept the badge in Credly; pending and rejected badges are not shown."
    ),
    REVOKED: "Nothing to do unless the revocation was a mistake: then reissue the badge in Credly.",
    REPLACED: "Nothing to do: the replacing badge is synchronised instead of this one.",
    PRIVATE: "Ask the earner to make the badge public in their Credly badge settings.",
    EXPIRED: (
        "Ask the earner to renew the credential, or enable the setting that includes expired "
        "badges."
    ),
    UNMATCHED_EMAIL: (
        "Add the recipient email to the user's proxyAddresses in Entra ID, or map it to the "
        "user in the connector's email overrides."
    ),
    AMBIGUOUS_EMAIL: (
        "Remove the recipient email from all but one Entra ID user, or map it to one user in the "
        "connector's email overrides."
    ),
    INACTIVE_USER: "Enable the user's account in Entra ID if the person should have a profile.",
    UNLICENSED_USER: (
        "Assign the user a Microsoft 365 licence that includes an Exchange Online mailbox."
    ),
}
"""One sentence per reason telling an admin what would make the badge appear."""
