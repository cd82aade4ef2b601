"""Matching a badge's recipient email to one Entra ID user, and saying why when it cannot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from credly_connector.directory import DirectoryUser
from credly_connector.rules import reasons
from credly_connector.rules.text import strip_controls

MAX_EMAIL_LENGTH = 254
METHOD_UPN = "userPrincipalName"
METHOD_MAIL = "mail"
METHOD_PROXY = "proxyAddresses"
METHOD_OVERRIDE = "override"

_EMAIL_FORBIDDEN = frozenset(' ()<>[]\\,;:"@')
_SMTP_PREFIX = "smtp:"


def normalize_email(value: object) -> str | None:
    """A trimmed, lower-case email address, or None when it is not a usable address.

    Usable means one `@`; a local part of 1-64 characters without spaces, controls, quotes or
    separators and without empty dot-atoms; a domain of at least two dot-separated labels of
    letters, digits and inner hyphens; at most 254 characters in all.

    Args:
        value: Anything; only strings can be addresses.

    Returns:
        The normalised address, or None.
    """
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or strip_controls(email) != email:
        return None
    local, at, domain = email.partition("@")
    if not at or not _valid_local(local) or not _valid_domain(domain):
        return None
    return email


def _valid_local(local: str) -> bool:
    return (
        0 < len(local) <= 64
        and not any(ch in _EMAIL_FORBIDDEN for ch in local)
        and all(local.split("."))
    )


def _valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    return len(labels) >= 2 and all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(ch.isalnum() or ch == "-" for ch in label)
        for label in labels
    )


@dataclass(frozen=True, slots=True)
class Resolution:
    """Who a recipient email belongs to, how that was found, and why it cannot be used if so.

    Attributes:
        email: The email as looked up (trimmed, lower-case).
        user: The matched user (also set for inactive or unlicensed users), or None.
        method: `userPrincipalName`, `mail`, `proxyAddresses` or `override`; None when no
            single user matched (an override naming an unknown user keeps `override`).
        reason: An identity reason from `reasons`, or None when the user can get badges.
        candidates: The user ids sharing the email when it is ambiguous (sorted), else ().
    """

    email: str
    user: DirectoryUser | None
    method: str | None
    reason: str | None
    candidates: tuple[str, ...] = ()


class DirectoryIndex:
    """An immutable, dict-based index of directory users by every address they receive mail at.

    Args:
        users: The directory; a later user with the same id replaces an earlier one.
        overrides: Admin mappings from recipient email to a UPN or user id, consulted first.
    """

    def __init__(
        self, users: Iterable[DirectoryUser], *, overrides: Mapping[str, str] | None = None
    ) -> None:
        """Index `users` by address; `overrides` keys are compared trimmed and lower-case."""
        self._users: dict[str, DirectoryUser] = {user.id: user for user in users}
        # Object ids are GUIDs, lower-case as Graph returns them: only others need a folded key.
        self._ids_folded = {
            user_id.lower(): user_id for user_id in self._users if not user_id.islower()
        }
        self._overrides = {
            key.strip().lower(): value.strip() for key, value in (overrides or {}).items()
        }
        # address -> the one user id holding it, or the ids (sorted) of all that hold it.
        # Kept this small on purpose: an instance holds the whole directory (issue 15).
        self._by_address: dict[str, str | tuple[str, ...]] = {}
        for user in self._users.values():
            for address in self.addresses(user):
                held = self._by_address.get(address)
                if held is None:
                    self._by_address[address] = user.id
                elif held != user.id:
                    ids = (held,) if isinstance(held, str) else held
                    self._by_address[address] = tuple(sorted({*ids, user.id}))

    def __len__(self) -> int:
        """How many distinct users (by id) the index holds."""
        return len(self._users)

    @staticmethod
    def addresses(user: DirectoryUser) -> frozenset[str]:
        """Every address of a user: UPN, mail and `SMTP:`/`smtp:` proxy addresses, lower-case.

        Args:
            user: A directory user.

        Returns:
            The trimmed, lower-case addresses (other proxy types such as `x500:` are ignored).
        """
        return frozenset(address for address, _ in _addresses_with_method(user))

    def user(self, user_id: str) -> DirectoryUser | None:
        """The user with this object id, or None."""
        return self._users.get(user_id)

    def emails_of(self, user_id: str) -> frozenset[str]:
        """The recipient emails whose badges belong to this user (empty when unknown).

        The user's own addresses, less those an override gives to someone else, plus the
        emails an override gives to this user (e.g. a personal address).
        """
        user = self._users.get(user_id)
        if user is None:
            return frozenset()
        own = {address for address in self.addresses(user) if address not in self._overrides}
        mapped = {
            email
            for email, target in self._overrides.items()
            if (resolved := self._resolve_override(email, target).user) is not None
            and resolved.id == user_id
        }
        return frozenset(own | mapped)

    def resolve(self, email: str) -> Resolution:
        """Find the one user a recipient email belongs to.

        Args:
            email: A recipient email (normalised here too).

        Returns:
            The resolution; `reason` is None only for one enabled, licensed user.
        """
        key = email.strip().lower()
        target = self._overrides.get(key)
        if target is not None:
            return self._resolve_override(key, target)
        owners = self._owners(key) if key else ()
        if not owners:
            return Resolution(key, None, None, reasons.UNMATCHED_EMAIL)
        if len(owners) > 1:
            return Resolution(key, None, None, reasons.AMBIGUOUS_EMAIL, owners)
        user = self._users[owners[0]]
        return _usable(key, user, _method_of(user, key))

    def _owners(self, address: str) -> tuple[str, ...]:
        held = self._by_address.get(address, ())
        return (held,) if isinstance(held, str) else held

    def _resolve_override(self, key: str, target: str) -> Resolution:
        folded = target.lower()
        user_id = folded if folded in self._users else self._ids_folded.get(folded)
        if user_id is not None:
            return _usable(key, self._users[user_id], METHOD_OVERRIDE)
        owners = tuple(
            owner
            for owner in self._owners(folded)
            if _method_of(self._users[owner], folded) == METHOD_UPN
        )
        if len(owners) > 1:
            return Resolution(key, None, METHOD_OVERRIDE, reasons.AMBIGUOUS_EMAIL, owners)
        if owners:
            return _usable(key, self._users[owners[0]], METHOD_OVERRIDE)
        return Resolution(key, None, METHOD_OVERRIDE, reasons.UNMATCHED_EMAIL)


def _usable(email: str, user: DirectoryUser, method: str | None) -> Resolution:
    """The resolution for one matched user, with the reason it cannot get badges if any."""
    reason = None
    if not user.account_enabled:
        reason = reasons.INACTIVE_USER
    elif not user.licensed:
        reason = reasons.UNLICENSED_USER
    return Resolution(email, user, method, reason)


def _addresses_with_method(user: DirectoryUser) -> Iterable[tuple[str, str]]:
    """The user's non-blank addresses with the attribute holding each, in method order.

    An address held by several attributes appears once per attribute.
    """
    held = [(user.user_principal_name, METHOD_UPN), (user.mail or "", METHOD_MAIL)]
    held.extend(
        (entry[len(_SMTP_PREFIX) :], METHOD_PROXY)
        for entry in user.proxy_addresses
        if entry[: len(_SMTP_PREFIX)].lower() == _SMTP_PREFIX
    )
    for address, method in held:
        folded = address.strip().lower()
        if folded:
            yield folded, method


def _method_of(user: DirectoryUser, address: str) -> str | None:
    """The first attribute (in method order) of `user` that holds `address`, or None."""
    return next((method for held, method in _addresses_with_method(user) if held == address), None)
