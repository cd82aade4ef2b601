"""The Graph stand-in's users query rules: $filter, $select, $search, $orderby, $top."""

from __future__ import annotations

import pytest

from devstack.graph import rules
from devstack.graph.directory import DirectoryUser
from devstack.graph.rules import Problem, UserFilter

ADELE = DirectoryUser(
    id="1",
    display_name="Adele Vance",
    user_principal_name="AdeleV@contoso.onmicrosoft.com",
    mail="Adele.Vance@contoso.com",
    proxy_addresses=["SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.net"],
    other_mails=["adele@example.org"],
    account_enabled=True,
)


def matches(expression: str, user: DirectoryUser = ADELE) -> bool:
    parsed = rules.parse_user_filter(expression)
    assert isinstance(parsed, UserFilter), parsed
    return bool(parsed.predicate(user))


@pytest.mark.parametrize(
    "expression",
    [
        "mail eq 'adele.vance@CONTOSO.com'",
        "userPrincipalName eq 'adelev@contoso.onmicrosoft.com'",
        "mail in ('x@y.z', 'ADELE.VANCE@contoso.com')",
        "proxyAddresses/any(p:p eq 'smtp:ADELE@contoso.net')",
        "proxyAddresses/any(x: startsWith(x, 'SMTP:adele'))",
        "otherMails/any(o:o eq 'adele@example.org')",
        "accountEnabled eq true and mail eq 'adele.vance@contoso.com'",
        "mail eq 'nobody@x.y' or (id eq '1')",
        "startsWith(displayName,'adele')",
        "endsWith(mail,'@contoso.com')",
        "not(mail eq 'x@y.z')",
        "mail ne 'x@y.z'",
    ],
)
def test_filters_that_match(expression: str) -> None:
    assert matches(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "mail eq 'adele@contoso.net'",
        "proxyAddresses/any(p:p eq 'smtp:adele.vance@fabrikam.com')",
        "accountEnabled eq false",
        "mail eq null",
    ],
)
def test_filters_that_do_not_match(expression: str) -> None:
    assert not matches(expression)


def test_quote_escaping() -> None:
    obrien = DirectoryUser(
        id="2", display_name="Pat", user_principal_name="p@x.y", mail="pat.o'brien@x.y"
    )
    assert matches("mail eq 'PAT.O''BRIEN@x.y'", obrien)


@pytest.mark.parametrize(
    ("expression", "construct"),
    [
        ("mail eq 'a'", None),
        ("endsWith(mail,'a')", "endsWith"),
        ("mail ne 'a'", "ne"),
        ("not startsWith(mail,'a')", "not"),
        ("proxyAddresses/any(p:endsWith(p,'a'))", "endsWith"),
    ],
)
def test_advanced_constructs_are_reported(expression: str, construct: str | None) -> None:
    parsed = rules.parse_user_filter(expression)
    assert isinstance(parsed, UserFilter)
    assert parsed.advanced == construct


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "mail",
        "mail eq",
        "mail eq 'x' extra",
        "shoeSize eq 42",
        "mail/any(p:p eq 'x')",
        "proxyAddresses/any(p:q eq 'x')",
        "mail gt 'x'",
        "mail eq 'x' or",
        'mail eq "x"',
    ],
)
def test_bad_filters_are_400_bad_request(expression: str) -> None:
    problem = rules.parse_user_filter(expression)
    assert isinstance(problem, Problem)
    assert (problem.status, problem.code) == (400, "BadRequest")


def test_select_search_and_orderby() -> None:
    assert rules.parse_select("id, mail,proxyAddresses") == ["id", "mail", "proxyAddresses"]
    assert rules.parse_select(None) == []
    assert isinstance(rules.parse_select("id,password"), Problem)
    search = rules.parse_search('"displayName:vance" OR "mail:nobody"')
    assert not isinstance(search, Problem)
    assert search(ADELE)
    both = rules.parse_search('"displayName:vance" AND "mail:nobody"')
    assert not isinstance(both, Problem)
    assert not both(ADELE)
    assert isinstance(rules.parse_search("vance"), Problem)
    assert rules.parse_orderby("displayName desc") == ("display_name", True)
    assert isinstance(rules.parse_orderby("shoeSize"), Problem)


def test_advanced_constructs_need_eventual_consistency_and_count() -> None:
    options = {"$filter": "mail ne 'a'", "$count": "true"}
    refused = rules.parse_users_query(options.get, eventual=False)
    assert isinstance(refused, Problem)
    assert (refused.status, refused.code) == (400, "Request_UnsupportedQuery")
    assert "'ne'" in refused.message
    accepted = rules.parse_users_query(options.get, eventual=True)
    assert not isinstance(accepted, Problem)
    assert accepted.counting
    assert accepted.predicates[0](ADELE)


def test_users_query_problems_come_in_graphs_order() -> None:
    options = {"$select": "password", "$filter": "mail eq", "$top": "0"}
    first = rules.parse_users_query(options.get, eventual=False)
    assert isinstance(first, Problem)
    assert "password" in first.message
    options = {"$filter": "mail ne 'a'", "$orderby": "shoeSize", "$top": "0"}
    second = rules.parse_users_query(options.get, eventual=False)
    assert isinstance(second, Problem)
    assert second.code == "Request_UnsupportedQuery"
    assert "'ne'" in second.message


def test_users_query_without_options_is_the_default_page() -> None:
    options: dict[str, str] = {}
    query = rules.parse_users_query(options.get, eventual=False)
    assert query == rules.UsersQuery([], [], counting=False, orderby=None, top=100)


@pytest.mark.parametrize(("top", "size"), [(None, 100), ("1", 1), ("999", 999)])
def test_top_sets_the_page_size(top: str | None, size: int) -> None:
    assert rules.parse_top(top) == size


@pytest.mark.parametrize("top", ["0", "1000", "-1", "ten"])
def test_top_outside_1_to_999_is_refused(top: str) -> None:
    problem = rules.parse_top(top)
    assert isinstance(problem, Problem)
    assert (problem.status, problem.code) == (400, "Request_UnsupportedQuery")
