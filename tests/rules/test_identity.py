"""Tests of matching recipient emails to directory users."""

from __future__ import annotations

from typing import Any

import pytest

from credly_connector.directory import DirectoryUser
from credly_connector.rules import DirectoryIndex, Resolution, reasons
from devstack.synthetic import EmailRelation, WorldSpec, build_world
from tests.rules.builders import make_user


def _user(**fields: Any) -> DirectoryUser:
    """A directory user with no mail unless given."""
    return make_user(**{"mail": None, **fields})


ADELE = _user(
    id="u-adele",
    user_principal_name="Adele.Vance@contoso.onmicrosoft.com",
    mail="Adele.Vance@Contoso.com",
    proxy_addresses=(
        "SMTP:Adele.Vance@Contoso.com",
        "smtp:avance@contoso.com",
        "smtp: Spaced@Contoso.com ",
        "x500:/o=ExchangeLabs/cn=adele",
        "sip:adele.sip@contoso.com",
        "SPO:spo-id",
    ),
)
ALEX = _user(id="u-alex", user_principal_name="alex@contoso.com", mail=None)
DISABLED = _user(
    id="u-gone", user_principal_name="gone@contoso.com", mail=None, account_enabled=False
)
UNLICENSED = _user(id="u-nolic", user_principal_name="nolic@contoso.com", licensed=False)
BOTH_BAD = _user(
    id="u-both", user_principal_name="both@contoso.com", account_enabled=False, licensed=False
)
SHARED_1 = _user(id="u-s2", user_principal_name="s1@contoso.com", mail="team@contoso.com")
SHARED_2 = _user(
    id="u-s1", user_principal_name="s2@contoso.com", proxy_addresses=("smtp:team@contoso.com",)
)
# The same address in the UPN and mail of one user is one owner, not an ambiguity.
SAME = _user(id="u-same", user_principal_name="same@contoso.com", mail="SAME@contoso.com")
INDEX = DirectoryIndex([ADELE, ALEX, DISABLED, UNLICENSED, BOTH_BAD, SHARED_1, SHARED_2, SAME])


def test_addresses_are_upn_mail_and_smtp_proxies_lower_cased() -> None:
    assert DirectoryIndex.addresses(ADELE) == {
        "adele.vance@contoso.onmicrosoft.com",
        "adele.vance@contoso.com",
        "avance@contoso.com",
        "spaced@contoso.com",
    }


def test_addresses_skip_blank_values() -> None:
    user = _user(user_principal_name="u@contoso.com", mail="", proxy_addresses=("smtp:",))

    assert DirectoryIndex.addresses(user) == {"u@contoso.com"}


@pytest.mark.parametrize(
    ("email", "user", "method", "reason", "candidates"),
    [
        ("adele.vance@contoso.onmicrosoft.com", ADELE, "userPrincipalName", None, ()),
        ("adele.vance@contoso.com", ADELE, "mail", None, ()),
        ("  ADELE.VANCE@contoso.COM ", ADELE, "mail", None, ()),
        ("avance@contoso.com", ADELE, "proxyAddresses", None, ()),
        ("spaced@contoso.com", ADELE, "proxyAddresses", None, ()),
        ("alex@contoso.com", ALEX, "userPrincipalName", None, ()),
        ("same@contoso.com", SAME, "userPrincipalName", None, ()),
        ("adele.sip@contoso.com", None, None, reasons.UNMATCHED_EMAIL, ()),
        ("/o=exchangelabs/cn=adele", None, None, reasons.UNMATCHED_EMAIL, ()),
        ("stranger@gmail.com", None, None, reasons.UNMATCHED_EMAIL, ()),
        ("", None, None, reasons.UNMATCHED_EMAIL, ()),
        ("team@contoso.com", None, None, reasons.AMBIGUOUS_EMAIL, ("u-s1", "u-s2")),
        ("gone@contoso.com", DISABLED, "userPrincipalName", reasons.INACTIVE_USER, ()),
        ("nolic@contoso.com", UNLICENSED, "userPrincipalName", reasons.UNLICENSED_USER, ()),
        ("both@contoso.com", BOTH_BAD, "userPrincipalName", reasons.INACTIVE_USER, ()),
    ],
)
def test_resolve(
    email: str,
    user: DirectoryUser | None,
    method: str | None,
    reason: str | None,
    candidates: tuple[str, ...],
) -> None:
    assert INDEX.resolve(email) == Resolution(
        email.strip().lower(), user, method, reason, candidates
    )


@pytest.mark.parametrize(
    ("overrides", "email", "expected_user", "reason"),
    [
        ({"Personal@Gmail.com": "Alex@contoso.com"}, "personal@gmail.com", ALEX, None),
        ({"personal@gmail.com": "u-alex"}, "PERSONAL@gmail.com", ALEX, None),
        ({"personal@gmail.com": " U-ALEX "}, "personal@gmail.com", ALEX, None),
        ({"adele.vance@contoso.com": "u-alex"}, "adele.vance@contoso.com", ALEX, None),
        ({"x@gmail.com": "gone@contoso.com"}, "x@gmail.com", DISABLED, reasons.INACTIVE_USER),
        ({"x@gmail.com": "u-nolic"}, "x@gmail.com", UNLICENSED, reasons.UNLICENSED_USER),
        ({"x@gmail.com": "nobody@contoso.com"}, "x@gmail.com", None, reasons.UNMATCHED_EMAIL),
        (
            {"adele.vance@contoso.com": "u-deleted"},
            "adele.vance@contoso.com",
            None,
            "unmatched_email",
        ),
    ],
)
def test_overrides_are_consulted_first(
    overrides: dict[str, str], email: str, expected_user: DirectoryUser | None, reason: str | None
) -> None:
    index = DirectoryIndex([ADELE, ALEX, DISABLED, UNLICENSED], overrides=overrides)

    resolution = index.resolve(email)

    assert (resolution.user, resolution.method, resolution.reason) == (
        expected_user,
        "override",
        reason,
    )


def test_an_override_to_a_upn_several_users_share_is_ambiguous() -> None:
    twin_1 = _user(id="t1", user_principal_name="twin@contoso.com")
    twin_2 = _user(id="t2", user_principal_name="Twin@contoso.com")
    index = DirectoryIndex([twin_1, twin_2], overrides={"x@gmail.com": "twin@contoso.com"})

    assert index.resolve("x@gmail.com") == Resolution(
        "x@gmail.com", None, "override", reasons.AMBIGUOUS_EMAIL, ("t1", "t2")
    )


def test_emails_without_an_override_still_resolve_normally() -> None:
    index = DirectoryIndex([ADELE, ALEX], overrides={"personal@gmail.com": "u-alex"})

    assert index.resolve("avance@contoso.com").user == ADELE


def test_user_and_emails_of() -> None:
    assert INDEX.user("u-alex") == ALEX
    assert INDEX.user("missing") is None
    assert INDEX.emails_of("u-adele") == DirectoryIndex.addresses(ADELE)
    assert INDEX.emails_of("missing") == frozenset()
    assert len(INDEX) == 8


def test_a_later_user_with_the_same_id_replaces_the_earlier_one() -> None:
    before = _user(id="u1", user_principal_name="old@contoso.com", mail="old@contoso.com")
    after = _user(id="u1", user_principal_name="new@contoso.com", mail="new@contoso.com")

    index = DirectoryIndex([before, after])

    assert index.resolve("old@contoso.com").reason == reasons.UNMATCHED_EMAIL
    assert index.resolve("new@contoso.com").user == after
    assert len(index) == 1


def test_fifty_thousand_users_index_and_resolve_by_dict() -> None:
    users = [
        _user(
            id=f"u{n:05d}",
            user_principal_name=f"user{n}@contoso.onmicrosoft.com",
            mail=f"User{n}@contoso.com",
            proxy_addresses=(f"SMTP:user{n}@contoso.com", f"smtp:alias{n}@contoso-legacy.com"),
        )
        for n in range(50_000)
    ]

    index = DirectoryIndex(users)

    assert len(index) == 50_000
    assert index.resolve("alias49999@contoso-legacy.com").user == users[49_999]
    assert index.resolve("USER25000@contoso.com").method == "mail"
    assert index.resolve("user0@contoso.onmicrosoft.com").method == "userPrincipalName"


# A generated world -----------------------------------------------------------------------------


def _connector_user(user: Any) -> DirectoryUser:
    """The Graph stand-in's user as the connector's directory client would read it."""
    return DirectoryUser(
        id=user.id,
        user_principal_name=user.user_principal_name,
        mail=user.mail,
        proxy_addresses=tuple(user.proxy_addresses),
        account_enabled=user.account_enabled,
        licensed=user.has_mailbox,
    )


def test_every_person_of_a_generated_world_resolves_as_the_ground_truth_says() -> None:
    world = build_world(WorldSpec(seed=1, badges=500))
    index = DirectoryIndex(_connector_user(u) for u in world.directory.users())
    seen_methods = set()

    for person in world.people:
        resolution = index.resolve(person.credly_email)
        if person.email_relation in (EmailRelation.NONE, EmailRelation.OTHER_MAIL):
            # otherMails are not mail addresses of the tenant: the admin must add an override.
            assert resolution.reason == reasons.UNMATCHED_EMAIL, person
            continue
        assert resolution.user is not None, person
        assert resolution.user.id == person.directory_user_id
        seen_methods.add(resolution.method)
        expected_method = {
            EmailRelation.UPN: {"userPrincipalName"},
            EmailRelation.MAIL: {"userPrincipalName", "mail"},
            EmailRelation.PROXY_ALIAS: {"proxyAddresses"},
        }[person.email_relation]
        assert resolution.method in expected_method, person
        if not person.enabled:
            assert resolution.reason == reasons.INACTIVE_USER
        elif not person.licensed:
            assert resolution.reason == reasons.UNLICENSED_USER
        else:
            assert resolution.reason is None

    assert seen_methods == {"userPrincipalName", "mail", "proxyAddresses"}
